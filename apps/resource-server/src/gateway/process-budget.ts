/**
 * How many stdio processes the gateway may run: at most `total` in all (shared and per-user) and
 * at most `perUser` per-user processes for one user, so one user (or many) cannot fork the host
 * to death. A slot is taken before a process starts and given back when it is stopped for good.
 *
 * A refusal says only which limit was reached, as a clause: a per-user server's caller is told
 * which server, and when to retry (create-mcp-server.ts); a shared server that could not start at
 * boot reports it as why it is unavailable, which no retry changes.
 */
import { ProcessLimitError } from './upstream-errors.ts';

export class ProcessBudget {
  readonly #total: number;
  readonly #perUser: number;
  #used = 0;
  readonly #byUser = new Map<string, number>();

  constructor(total: number, perUser: number) {
    this.#total = total;
    this.#perUser = perUser;
  }

  get used(): number {
    return this.#used;
  }

  /** Takes a slot (for `user`'s per-user process, or a shared one); returns its release. */
  take(user?: string): () => void {
    if (this.#used >= this.#total) {
      throw new ProcessLimitError('max_processes', `Gatehouse already runs ${processes(this.#total)}, its limit (resource_server.max_processes)`);
    }
    const mine = user === undefined ? 0 : this.#byUser.get(user) ?? 0;
    if (user !== undefined && mine >= this.#perUser) {
      throw new ProcessLimitError('max_processes_per_user', `you already have ${processes(mine)} running, the per-user limit (resource_server.max_processes_per_user)`);
    }
    this.#used += 1;
    if (user !== undefined) this.#byUser.set(user, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#used -= 1;
      if (user === undefined) return;
      const left = (this.#byUser.get(user) ?? 1) - 1;
      if (left > 0) this.#byUser.set(user, left);
      else this.#byUser.delete(user);
    };
  }
}

function processes(count: number): string {
  return `${count} MCP server process${count === 1 ? '' : 'es'}`;
}
