/**
 * The gateway's MCP client transport for stdio upstreams (MCP 2025-11-25 transports §stdio): it
 * starts the server process and exchanges newline-delimited JSON-RPC messages on its stdin and
 * stdout. Spawning, stderr (a stream to read from before `start`) and closing (stdin ended, then
 * SIGTERM after 2 s, SIGKILL after 2 s more) are the MCP SDK's StdioClientTransport's.
 *
 * Why not that transport: a message from the process longer than its buffer (10 MiB) made it close
 * the transport, killing a process every caller may share, and failing every call in flight on it,
 * for one caller's large answer (a file read). Here a message is read with a bound
 * (MAX_MESSAGE_BYTES, as for HTTP upstreams) and a longer one fails only its own request: its id
 * is read from the ends of the line, and that request is answered with a JSON-RPC error. A longer
 * message whose id cannot be found (or a request or notification from the server) is dropped,
 * with a warning in the log. The process carries on either way.
 *
 * A process that reads its stdin no more (a write fails EPIPE: it closed it, or is exiting) can be
 * sent nothing: the transport closes, ending it if it lingers, and its exit is what is reported,
 * not the failed write (#wroteToNoReader).
 *
 * Where the id is: SDK servers write `{"result":…,"jsonrpc":"2.0","id":7}` (the id last), most
 * others `{"jsonrpc":"2.0","id":7,"result":…}` (first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../../../shared/logger.ts';
import { BoundedLineSplitter } from './bounded-line-splitter.ts';
import { MAX_MESSAGE_BYTES } from './http-client-transport.ts';

/** Bytes kept of each end of a message past the bound: where its id is. */
const ENDS_KEPT = 256;
/** How long the process has to exit after its stdin is ended, then after SIGTERM. */
const CLOSE_GRACE_MS = 2000;
/**
 * How long the stdout and stderr of a process being ended are read after it exited, before they
 * are closed from this side (closePipesAfterExit): what it wrote last is read within this.
 */
const PIPES_AFTER_EXIT_MS = 1000;

/**
 * Closes the stdout and stderr of `child`, which is being ended, a moment after it exited. 'close'
 * (the end the transport reports) waits for them to end, and a process that started its own (a
 * wrapper such as npx, uvx or a shell script, with the server as its child) can exit while that
 * child still holds them: a server ended after it closed its stdin was never reported down, and
 * every call after failed "Not connected". Only for a process the transport ends: one that exits
 * on its own while its child holds the pipes may have left that child serving (a wrapper that
 * puts the server in the background), and the pipes still say when it ends, as for the MCP SDK's
 * own transport.
 */
function closePipesAfterExit(child: ChildProcess): void {
  const closeSoon = () => setTimeout(() => {
    child.stdout?.destroy();
    child.stderr?.destroy();
  }, PIPES_AFTER_EXIT_MS).unref();
  if (child.exitCode !== null || child.signalCode !== null) closeSoon();
  else child.once('exit', closeSoon);
}

export interface StdioClientTransportOptions {
  command: string;
  args: string[];
  /** The process's whole environment (nothing is inherited beyond it). */
  env: Record<string, string>;
  cwd?: string;
  /** Named in the warnings logged for a message that is dropped. */
  server: string;
  logger: Logger;
  /** Longest message read from the process, in bytes. Default: MAX_MESSAGE_BYTES (16 MiB). */
  maxMessageBytes?: number;
}

export class StdioClientTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  readonly #options: StdioClientTransportOptions;
  /** The process's stderr, readable before it is started (so nothing it writes first is lost). */
  readonly stderr = new PassThrough();
  #process: ChildProcess | undefined;
  #exit: string | undefined;
  /** Nothing reads the process's stdin any more (EPIPE): what is written to it is lost. */
  #stdinGone = false;
  #closing: Promise<void> | undefined;

  constructor(options: StdioClientTransportOptions) {
    this.#options = options;
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** How the process ended (`with code 1`, `on SIGTERM`), once it has. */
  get exit(): string | undefined {
    return this.#exit;
  }

  start(): Promise<void> {
    if (this.#process) return Promise.reject(new Error('the transport was started already'));
    const { command, args, env, cwd, maxMessageBytes = MAX_MESSAGE_BYTES } = this.#options;
    return new Promise((resolve, reject) => {
      const child = this.#process = spawn(command, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'], shell: false });
      let spawned = false;
      // A failed spawn is the start's failure, reported once by whoever started it (the
      // SupervisedProcess's "mcp server is down"); onerror is for a running process's errors.
      child.on('error', (error) => {
        if (spawned) this.onerror?.(error);
        else reject(error);
      });
      child.on('spawn', () => {
        spawned = true;
        resolve();
      });
      child.on('close', (code, signal) => {
        this.#exit = signal ? `on ${signal}` : `with code ${String(code)}`;
        this.#process = undefined;
        this.onclose?.();
      });
      child.stdin!.on('error', (error) => {
        if (!this.#wroteToNoReader(error)) this.onerror?.(error);
      });
      const lines = new BoundedLineSplitter(maxMessageBytes, ENDS_KEPT, (line) => this.#read(line), (head, tail) => this.#tooLong(head, tail));
      child.stdout!.on('data', (chunk: Buffer) => lines.push(chunk));
      child.stdout!.on('error', (error) => this.onerror?.(error));
      child.stderr!.pipe(this.stderr);
      // Closed from this side (above), it does not end: end what is read from it all the same.
      child.stderr!.once('close', () => {
        if (!this.stderr.writableEnded) this.stderr.end();
      });
    });
  }

  /**
   * Resolves once the message is written, or handed to a process that reads no more (see
   * #wroteToNoReader): lost, as one written just before it exits is. Waiting for `drain` instead
   * never ended on a failed write (a stream that failed drains no more), and the start waiting on
   * it (the SDK's `notifications/initialized`) with it: the server stayed `starting` for ever.
   */
  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      const stdin = this.#process?.stdin;
      if (!stdin) return reject(new Error('Not connected'));
      const written = stdin.write(`${JSON.stringify(message)}\n`, (error) => {
        if (error && !this.#wroteToNoReader(error)) reject(error);
        else resolve();
      });
      if (written) resolve();
    });
  }

  /**
   * Whether `error` (of a write to the process's stdin) says nothing reads it any more: EPIPE, the
   * process closed its stdin or is exiting, or a write after that. It is not told to `onerror`:
   * its consequence, not its cause, it was a warn line saying calls go on, beside the line saying
   * the server is down. The transport closes instead: the process is ended if it lingers (it can
   * be sent nothing), and its exit is what is reported.
   */
  #wroteToNoReader(error: Error): boolean {
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') this.#stdinGone = true;
    if (!this.#stdinGone) return false;
    void this.close();
    return true;
  }

  /**
   * Ends the process (its stdin, then SIGTERM, then SIGKILL); a call while it is being ended waits
   * for that ending (the one an EPIPE started, when the gateway stops).
   */
  close(): Promise<void> {
    const child = this.#process;
    if (!this.#closing && child) this.#closing = this.#end(child);
    return this.#closing ?? Promise.resolve();
  }

  async #end(child: ChildProcess): Promise<void> {
    this.#process = undefined;
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    closePipesAfterExit(child);
    const exitedWithin = (ms: number) => Promise.race([closed, new Promise<void>((resolve) => setTimeout(resolve, ms).unref())]);
    child.stdin?.end();
    await exitedWithin(CLOSE_GRACE_MS);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exitedWithin(CLOSE_GRACE_MS);
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  /**
   * Hands on a line that is a JSON-RPC message; any other goes to `onerror` (logged) by its length
   * alone. Not JSON.parse's error, which quotes the line's first ten characters, nor zod's: a
   * server printing a token it read there (a debug line) put its start in Gatehouse's log, and
   * that token is the server's own, which no redaction of the configured credentials knows.
   */
  #read(line: Buffer): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line.toString('utf8'));
    } catch {
      this.onerror?.(new Error(`a line of ${line.length} bytes on its stdout is not JSON`));
      return;
    }
    const message = JSONRPCMessageSchema.safeParse(parsed);
    if (!message.success) {
      this.onerror?.(new Error(`a line of ${line.length} bytes on its stdout is not a JSON-RPC 2.0 message`));
      return;
    }
    this.#deliver(message.data);
  }

  /**
   * Hands a message on; what the receiver throws goes to `onerror`. Thrown from here, it would
   * leave the stdout listener uncaught and end the whole resource server: the SDK's Protocol
   * throws on some messages it cannot handle (JSON.stringify of a response to an unknown id
   * nested deep enough overflows the stack), and those come from the upstream's own output.
   */
  #deliver(message: JSONRPCMessage): void {
    try {
      this.onmessage?.(message);
    } catch (err) {
      this.onerror?.(err as Error);
    }
  }

  #tooLong(head: Buffer, tail: Buffer): void {
    const { server, logger, maxMessageBytes = MAX_MESSAGE_BYTES } = this.#options;
    const id = responseIdOf(head.toString('utf8'), tail.toString('utf8'));
    if (id === undefined) {
      logger.warn({ server, maxBytes: maxMessageBytes }, 'an mcp server wrote a message longer than the limit, and no answer to a call: it is dropped');
      return;
    }
    logger.warn({ server, maxBytes: maxMessageBytes }, 'an mcp server answered a call with a message longer than the limit: that call fails');
    this.#deliver({ jsonrpc: '2.0', id, error: { code: ErrorCode.InternalError, message: `its answer is longer than ${maxMessageBytes} bytes` } });
  }
}

/** A JSON-RPC id: a number or a string (escapes allowed). */
const ID = String.raw`-?\d+|"(?:[^"\\]|\\.)*"`;
/** An object's first members before `result` or `error`, when they are only `jsonrpc` and `id`. */
const RESPONSE_START = new RegExp(String.raw`^\s*\{((?:\s*"(?:jsonrpc|id)"\s*:\s*(?:${ID})\s*,)*)\s*"(?:result|error)"\s*:`);
const ID_MEMBER = new RegExp(String.raw`"id"\s*:\s*(${ID})`);
/** `"id":7}` closing the line: `}}` would be the id of an object inside the result. */
const ID_LAST = new RegExp(String.raw`[,{]\s*"id"\s*:\s*(${ID})\s*\}\s*$`);

/**
 * The id of a response, from the first and last bytes of its line; undefined when the line is not
 * plainly a response (a request or notification starts with other members) or the id is in
 * neither end. A response's `result` or `error` holds any text, but only in its middle: the start
 * is read up to it, and the end only as the object's last member.
 */
function responseIdOf(head: string, tail: string): string | number | undefined {
  const start = RESPONSE_START.exec(head);
  if (!start) return undefined;
  const literal = ID_MEMBER.exec(start[1]!)?.[1] ?? ID_LAST.exec(tail)?.[1];
  if (literal === undefined) return undefined;
  try {
    return JSON.parse(literal) as string | number;
  } catch {
    return undefined;
  }
}
