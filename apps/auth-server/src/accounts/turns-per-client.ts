/**
 * At most `limit` jobs at once per key (a client address: clientAddressKey), the others of that
 * key waiting their turn in order. Password compares go through it before the hashing pool's one
 * queue: one address that POSTed a burst of sign-ins within its rate limit (120 at once by
 * default) put them all ahead of everyone else's, and an administrator's sign-in from another
 * address took 6.8 s instead of 0.25 s behind 24 of them. Now an address holds at most `limit`
 * places in that queue (as many as there are hashing threads, interaction-routes.ts), so
 * another's sign-in waits for at most one round of compares per address sending at the moment,
 * and a burst only delays its own sender.
 */
export class TurnsPerClient {
  readonly #limit: number;
  /** Per key: jobs running (or handed a turn), and those waiting for one. */
  readonly #keys = new Map<string, { running: number; waiting: Array<() => void> }>();

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new TypeError('limit must be a positive integer');
    this.#limit = limit;
  }

  async run<T>(key: string, job: () => Promise<T>): Promise<T> {
    let entry = this.#keys.get(key);
    if (!entry) this.#keys.set(key, entry = { running: 0, waiting: [] });
    if (entry.running < this.#limit) entry.running += 1;
    else await new Promise<void>((resolve) => entry.waiting.push(resolve)); // handed a turn as one ends
    try {
      return await job();
    } finally {
      const next = entry.waiting.shift();
      if (next) next();
      else if ((entry.running -= 1) === 0) this.#keys.delete(key);
    }
  }

  /** Keys with a job running or waiting (tests: nothing is kept once they are done). */
  get size(): number {
    return this.#keys.size;
  }
}
