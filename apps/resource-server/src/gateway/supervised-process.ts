/**
 * One stdio MCP server process kept running: started, and restarted with exponential backoff
 * (0.5 s doubling to 30 s) whenever it exits or fails to initialize, until it is stopped.
 *
 * A call while it is down fails at once with the reason and the time of the next attempt, rather
 * than waiting for the backoff: the caller is told which server is down and why, and other
 * servers' tools are unaffected. A call while it is starting waits for that start.
 *
 * Its `env` values count as its credentials: they are taken out of its errors and its stderr
 * before the gateway quotes or logs them (redact-credentials.ts).
 */
import type { Readable } from 'node:stream';
import { getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { StdioServerConfig } from '../../../shared/config/gateway-servers.ts';
import type { Logger } from '../../../shared/logger.ts';
import { readBoundedLines } from './read-bounded-lines.ts';
import { describeSpawnFailure } from './describe-spawn-failure.ts';
import { credentialsAmong, maskCutCredential, redactText } from './redact-credentials.ts';
import { StdioClientTransport } from './stdio-client-transport.ts';
import { UpstreamConnection } from './upstream-connection.ts';
import { cutReason, UpstreamUnavailableError } from './upstream-errors.ts';

export type ProcessState = 'starting' | 'ready' | 'down' | 'stopped';

const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
/** A process that ran this long before exiting starts the backoff over. */
const STABLE_AFTER_MS = 30_000;
/** Longest stderr line logged (and held while it is being written); the rest is dropped. */
const MAX_LOG_LINE = 2000;

export interface SupervisedProcessOptions {
  config: StdioServerConfig;
  /** Variables beyond the configured ones (the per-user identity). */
  extraEnv?: Record<string, string>;
  logger: Logger;
  onListChanged?: (kind: 'tools' | 'prompts' | 'resources') => void;
  /** Restart backoff and the "stable" run are counted on it (the restart timer is real). Default: systemClock. */
  clock?: Clock;
}

export class SupervisedProcess {
  readonly #options: SupervisedProcessOptions;
  readonly #clock: Clock;
  /** Its `env` values, taken out of its errors and stderr before they are quoted (redact-credentials.ts). */
  readonly #credentials: readonly string[];
  #state: ProcessState = 'stopped';
  #reason: string | undefined;
  #connection: UpstreamConnection | undefined;
  #starting: Promise<UpstreamConnection> | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #restartAt = 0;
  #failures = 0;
  #stopped = false;

  constructor(options: SupervisedProcessOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#credentials = credentialsAmong(Object.values(options.config.env));
  }

  get state(): ProcessState {
    return this.#state;
  }

  get reason(): string | undefined {
    return this.#reason;
  }

  /** A call in flight, or a start that callers are waiting for: either way, not idle. */
  get busy(): boolean {
    return this.#starting !== undefined || (this.#connection?.busy ?? false);
  }

  start(): void {
    if (this.#stopped || this.#starting || this.#connection) return;
    this.#starting = this.#launch();
    this.#starting.catch(() => { /* reported through state and to callers */ });
  }

  /** The running connection, waiting for a start in progress; throws when the process is down. */
  async connection(): Promise<UpstreamConnection> {
    if (this.#connection && !this.#connection.closed) return this.#connection;
    if (this.#stopped) throw new UpstreamUnavailableError(this.#options.config.name, 'it was stopped');
    if (this.#starting) {
      try {
        return await this.#starting;
      } catch {
        // fall through to the down report below
      }
    }
    const retryIn = Math.max(0, Math.ceil((this.#restartAt - this.#clock.now()) / 1000));
    throw new UpstreamUnavailableError(this.#options.config.name, `${this.#reason ?? 'it is not running'}; it is restarted in ${retryIn} s`);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#state = 'stopped';
    clearTimeout(this.#restartTimer);
    const connection = this.#connection ?? await this.#starting?.catch(() => undefined);
    this.#connection = undefined;
    await connection?.close();
  }

  async #launch(): Promise<UpstreamConnection> {
    const { config, extraEnv, logger } = this.#options;
    this.#state = 'starting';
    const transport = new StdioClientTransport({
      command: config.command,
      args: config.args,
      // Nothing of Gatehouse's own environment beyond the SDK's minimal set (PATH, HOME, USER, …):
      // the process must not see our secrets.
      env: { ...getDefaultEnvironment(), ...config.env, ...extraEnv },
      cwd: config.cwd,
      server: config.name,
      logger,
    });
    this.#logStderr(transport.stderr);
    const startedAt = this.#clock.now();
    let opened: UpstreamConnection | undefined;
    try {
      const connection = opened = await UpstreamConnection.open({
        server: config.name,
        transport,
        timeoutMs: config.timeout * 1000,
        logger,
        onListChanged: this.#options.onListChanged,
        onClose: () => this.#exited(opened, startedAt),
        credentials: () => this.#credentials,
        clock: this.#clock,
      });
      if (this.#stopped) {
        await connection.close();
        throw new UpstreamUnavailableError(config.name, 'it was stopped');
      }
      this.#connection = connection;
      this.#state = 'ready';
      this.#reason = undefined;
      logger.info({ server: config.name, pid: transport.pid }, 'mcp server started');
      return connection;
    } catch (err) {
      // The message may quote the process at any length (the error it answered to initialize).
      const why = describeSpawnFailure(err, config) ?? cutReason((err as Error).message);
      if (!this.#stopped) this.#down(`it failed to start: ${why}`);
      throw err;
    } finally {
      this.#starting = undefined;
    }
  }

  #exited(connection: UpstreamConnection | undefined, startedAt: number): void {
    // An exit during the start is reported by the start itself.
    if (this.#stopped || !connection || connection !== this.#connection) return;
    this.#connection = undefined;
    if (this.#clock.now() - startedAt >= STABLE_AFTER_MS) this.#failures = 0;
    this.#down('it exited');
  }

  #down(reason: string): void {
    this.#state = 'down';
    this.#reason = reason;
    const delay = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** this.#failures);
    this.#failures += 1;
    this.#restartAt = this.#clock.now() + delay;
    this.#options.logger.warn({ server: this.#options.config.name, reason, restartInMs: delay }, 'mcp server is down');
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => this.start(), delay).unref();
  }

  #logStderr(stderr: Readable): void {
    const server = this.#options.config.name;
    readBoundedLines(stderr, MAX_LOG_LINE, (line, cut) => {
      const redacted = redactText(line, this.#credentials);
      this.#options.logger.info({ server, stderr: cut ? `${maskCutCredential(redacted, this.#credentials)}…` : redacted }, 'mcp server stderr');
    });
  }
}
