/**
 * A stdio MCP server with one process per signed-in user (`per_user: true`), for isolation: a
 * user's process starts at their first request to it, gets their identity in its environment
 * (GATEHOUSE_USER_SUB, GATEHOUSE_USERNAME), is restarted with backoff while they use it, and is
 * stopped after `idle_timeout` without a call. Bounded by the ProcessBudget.
 *
 * A service account (client credentials) is no user: it gets no process here, and its calls are
 * refused as the server being unavailable to it (the gateway forwards no identity for a service).
 */
import type { Clock } from '../../../shared/clock.ts';
import type { StdioServerConfig } from '../../../shared/config/gateway-servers.ts';
import type { Logger } from '../../../shared/logger.ts';
import type { ProcessBudget } from './process-budget.ts';
import { SupervisedProcess } from './supervised-process.ts';
import { UpstreamUnavailableError } from './upstream-errors.ts';
import type { CallContext, ListChangeListener, Upstream, UpstreamStatus } from './upstream.ts';
import type { UpstreamConnection } from './upstream-connection.ts';

interface UserProcess {
  process: SupervisedProcess;
  release: () => void;
  lastUsed: number;
}

export interface PerUserStdioUpstreamOptions {
  budget: ProcessBudget;
  logger: Logger;
  onListChanged: ListChangeListener;
  /** Idle time is counted on it (the idle sweep runs on a real timer). */
  clock: Clock;
}

export class PerUserStdioUpstream implements Upstream {
  readonly config: StdioServerConfig;
  readonly #options: PerUserStdioUpstreamOptions;
  readonly #clock: Clock;
  readonly #processes = new Map<string, UserProcess>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(config: StdioServerConfig, options: PerUserStdioUpstreamOptions) {
    this.config = config;
    this.#options = options;
    this.#clock = options.clock;
    const idleMs = config.idleTimeout * 1000;
    this.#sweeper = setInterval(() => this.stopIdle(), Math.max(250, Math.min(idleMs / 2, 60_000))).unref();
  }

  start(): void {
    // Processes start at each user's first request.
  }

  connectionFor({ caller }: CallContext): Promise<UpstreamConnection> {
    if (caller.extra.service) throw new UpstreamUnavailableError(this.config.name, 'it runs one process per user, and a service account is no user');
    const subject = caller.extra.subject;
    let entry = this.#processes.get(subject);
    if (!entry) {
      const release = this.#options.budget.take(subject);
      const process = new SupervisedProcess({
        config: this.config,
        extraEnv: { GATEHOUSE_USER_SUB: subject, GATEHOUSE_USERNAME: caller.extra.username ?? '' },
        logger: this.#options.logger,
        onListChanged: (kind) => this.#options.onListChanged(kind, { subject }),
        clock: this.#clock,
      });
      entry = { process, release, lastUsed: this.#clock.now() };
      this.#processes.set(subject, entry);
      process.start();
    }
    entry.lastUsed = this.#clock.now();
    return entry.process.connection();
  }

  /** Stops the processes of users idle for `idle_timeout` (none with a call in flight). */
  stopIdle(now = this.#clock.now()): void {
    for (const [subject, entry] of this.#processes) {
      if (now - entry.lastUsed < this.config.idleTimeout * 1000 || entry.process.busy) continue;
      this.#processes.delete(subject);
      this.#options.logger.info({ server: this.config.name, subject }, 'stopping an idle per-user mcp server');
      entry.process.stop().finally(entry.release).catch(() => { /* already gone */ });
    }
  }

  async endSession(): Promise<void> {
    // A user's process outlives their sessions until it is idle.
  }

  status(): UpstreamStatus {
    const processes = [...this.#processes.values()];
    const running = processes.filter((entry) => entry.process.state === 'ready').length;
    const down = processes.find((entry) => entry.process.state === 'down');
    return {
      name: this.config.name,
      transport: 'stdio',
      perUser: true,
      state: processes.length === 0 ? 'idle' : down && running === 0 ? 'down' : running > 0 ? 'ready' : 'starting',
      ...(down?.process.reason ? { reason: down.process.reason } : {}),
      processes: running,
    };
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    const entries = [...this.#processes.values()];
    this.#processes.clear();
    await Promise.all(entries.map(async (entry) => {
      await entry.process.stop();
      entry.release();
    }));
  }
}
