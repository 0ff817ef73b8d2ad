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
import { finished } from 'node:stream/promises';
import { getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { StdioServerConfig } from '../../../shared/config/gateway-servers.ts';
import type { Logger } from '../../../shared/logger.ts';
import { readBoundedLines } from './read-bounded-lines.ts';
import { describeSpawnFailure } from './describe-spawn-failure.ts';
import { credentialsAmong, maskCutCredential, redactText } from './redact-credentials.ts';
import { StderrTail } from './stderr-tail.ts';
import { StdioClientTransport } from './stdio-client-transport.ts';
import { UpstreamConnection } from './upstream-connection.ts';
import { cutReason, UpstreamUnavailableError } from './upstream-errors.ts';

export type ProcessState = 'starting' | 'ready' | 'down' | 'stopped';

const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
/** A process that ran this long (once started) before exiting starts the backoff over. */
const STABLE_AFTER_MS = 30_000;
/** Longest stderr line logged (and held while it is being written); the rest is dropped. */
const MAX_LOG_LINE = 2000;
/** How long the rest of the stderr of a process that quit during its start is given to be read (endOf). */
const STDERR_END_WAIT_MS = 2000;

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
  /** The end of its stderr when it quit during its last start (StderrTail), shown with #reason. */
  #stderrTail: string | undefined;
  #connection: UpstreamConnection | undefined;
  #starting: Promise<UpstreamConnection> | undefined;
  /** The transport of the start in progress: a stop closes it rather than wait out the start. */
  #startingTransport: StdioClientTransport | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  /**
   * It was down since it was last ready: once ready again, every list is told as changed. A list
   * answered meanwhile left it out, and a client that lists once per session would not see its
   * tools again until it reconnected.
   */
  #downSinceReady = false;
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

  /**
   * Why it is down, for the admin (GET /gateway/servers, the MCP servers page) and the log: with the
   * last lines of its stderr when it quit during its start (stderr-tail.ts). Callers' errors get
   * the reason without them: a server's stderr is for those who can read the log.
   */
  get reason(): string | undefined {
    return this.#reason && this.#stderrTail ? `${this.#reason}; its stderr says: ${this.#stderrTail}` : this.#reason;
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
    // A start may take up to `start_timeout` (a minute by default): ending its process ends it now.
    await this.#startingTransport?.close();
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
    const stderrTail = this.#logStderr(transport.stderr);
    this.#startingTransport = transport;
    let readyAt = Number.POSITIVE_INFINITY;
    let opened: UpstreamConnection | undefined;
    try {
      const connection = opened = await UpstreamConnection.open({
        server: config.name,
        transport,
        timeoutMs: config.timeout * 1000,
        startTimeoutMs: config.startTimeout * 1000,
        logger,
        onListChanged: this.#options.onListChanged,
        onClose: () => this.#exited(opened, readyAt),
        credentials: () => this.#credentials,
        clock: this.#clock,
      });
      if (this.#stopped) {
        await connection.close();
        throw new UpstreamUnavailableError(config.name, 'it was stopped');
      }
      this.#connection = connection;
      readyAt = this.#clock.now();
      this.#state = 'ready';
      this.#reason = undefined;
      this.#stderrTail = undefined;
      logger.info({ server: config.name, pid: transport.pid }, 'mcp server started');
      if (this.#downSinceReady) {
        this.#downSinceReady = false;
        for (const kind of ['tools', 'prompts', 'resources'] as const) this.#options.onListChanged?.(kind);
      }
      return connection;
    } catch (err) {
      // The message may quote the process at any length (the error it answered to initialize).
      if (this.#stopped) throw err;
      if (err instanceof McpError && err.code === ErrorCode.ConnectionClosed) {
        // It quit before answering initialize: why is on its stderr, if anywhere.
        await endOf(transport.stderr, STDERR_END_WAIT_MS);
        if (this.#stopped) throw err;
        this.#down(`it failed to start: ${transport.exit ? `it exited ${transport.exit}` : 'it closed its stdout'}`, stderrTail.text());
      } else {
        this.#down(`it failed to start: ${describeSpawnFailure(err, config) ?? cutReason((err as Error).message)}`);
      }
      throw err;
    } finally {
      this.#starting = undefined;
      this.#startingTransport = undefined;
    }
  }

  #exited(connection: UpstreamConnection | undefined, readyAt: number): void {
    // An exit during the start is reported by the start itself.
    if (this.#stopped || !connection || connection !== this.#connection) return;
    this.#connection = undefined;
    // Counted from when it was ready: a start that took most of that time proves nothing.
    if (this.#clock.now() - readyAt >= STABLE_AFTER_MS) this.#failures = 0;
    this.#down('it exited');
  }

  #down(reason: string, stderrTail?: string): void {
    this.#state = 'down';
    this.#downSinceReady = true;
    this.#reason = reason;
    this.#stderrTail = stderrTail;
    const delay = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** this.#failures);
    this.#failures += 1;
    this.#restartAt = this.#clock.now() + delay;
    this.#options.logger.warn({ server: this.#options.config.name, reason: this.reason, restartInMs: delay }, 'mcp server is down');
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => this.start(), delay).unref();
  }

  /** Logs each line of `stderr` without the credentials; returns its last lines, as logged. */
  #logStderr(stderr: Readable): StderrTail {
    const server = this.#options.config.name;
    const tail = new StderrTail();
    readBoundedLines(stderr, MAX_LOG_LINE, (line, cut) => {
      const redacted = redactText(line, this.#credentials);
      const logged = cut ? `${maskCutCredential(redacted, this.#credentials)}…` : redacted;
      this.#options.logger.info({ server, stderr: logged }, 'mcp server stderr');
      tail.add(logged);
    });
    return tail;
  }
}

/**
 * Waits for `stream` to end, at most `ms`: the copy of a process's stderr that the line reader
 * reads (StdioClientTransport.stderr), which may still hold lines when the process is reported
 * closed. The close itself comes only once every stdio stream of the process has ended, so a child
 * it left behind holding stderr open delays it (up to `start_timeout`), not this wait.
 */
async function endOf(stream: Readable, ms: number): Promise<void> {
  if (stream.readableEnded) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    finished(stream).catch(() => { /* an error ends it too */ }),
    new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); }),
  ]);
  clearTimeout(timer);
}
