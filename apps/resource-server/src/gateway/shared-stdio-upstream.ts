/**
 * A stdio MCP server shared by every caller: one process, started at boot and kept running
 * (restarted with backoff by SupervisedProcess). Callers are told apart only by the
 * `_meta["gatehouse/user"]` of each request.
 */
import type { StdioServerConfig } from '../../../shared/config/gateway-servers.ts';
import type { Logger } from '../../../shared/logger.ts';
import type { ProcessBudget } from './process-budget.ts';
import { SupervisedProcess } from './supervised-process.ts';
import type { ListChangeListener, Upstream, UpstreamStatus } from './upstream.ts';
import type { UpstreamConnection } from './upstream-connection.ts';
import { UpstreamUnavailableError } from './upstream-errors.ts';

export class SharedStdioUpstream implements Upstream {
  readonly config: StdioServerConfig;
  readonly #process: SupervisedProcess;
  readonly #budget: ProcessBudget;
  #release: (() => void) | undefined;
  #notStarted: string | undefined;

  constructor(config: StdioServerConfig, { budget, logger, onListChanged }: { budget: ProcessBudget; logger: Logger; onListChanged: ListChangeListener }) {
    this.config = config;
    this.#budget = budget;
    this.#process = new SupervisedProcess({ config, logger, onListChanged: (kind) => onListChanged(kind, { all: true }) });
  }

  start(): void {
    try {
      this.#release ??= this.#budget.take();
    } catch (err) {
      this.#notStarted = (err as Error).message;
      return;
    }
    this.#process.start();
  }

  connectionFor(): Promise<UpstreamConnection> {
    if (this.#notStarted) return Promise.reject(new UpstreamUnavailableError(this.config.name, this.#notStarted));
    return this.#process.connection();
  }

  async endSession(): Promise<void> {
    // Shared by every session: nothing belongs to one.
  }

  status(): UpstreamStatus {
    const state = this.#process.state;
    return {
      name: this.config.name,
      transport: 'stdio',
      perUser: false,
      state: state === 'stopped' ? 'down' : state,
      ...(this.#notStarted ?? this.#process.reason ? { reason: this.#notStarted ?? this.#process.reason } : {}),
      processes: state === 'ready' ? 1 : 0,
    };
  }

  async close(): Promise<void> {
    await this.#process.stop();
    this.#release?.();
  }
}
