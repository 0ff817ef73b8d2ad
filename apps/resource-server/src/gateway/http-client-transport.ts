/**
 * The gateway's MCP client transport for Streamable HTTP upstreams (MCP 2025-11-25 transports
 * §Streamable HTTP), on undici's `request` and Node streams.
 *
 * Why not the SDK's StreamableHTTPClientTransport: it goes through fetch, a Response and three web
 * streams (TextDecoderStream, an EventSource parser) for every message, which cost the gateway
 * more CPU per relayed call than the upstream spends answering it (bench/gateway-echo.ts). This
 * transport does what a gateway needs and no more:
 * - each message is one POST with `Accept: application/json, text/event-stream`, the session's
 *   `Mcp-Session-Id` (taken from the initialize answer) and `MCP-Protocol-Version`; a 202 has no
 *   body; a JSON answer or an event stream carries the response and any messages before it; the
 *   body of a 2xx to a POST that carried no request (a notification, our response) is not read,
 *   as by the SDK's transport: some servers answer those 200 `{}` where the spec says 202 (an
 *   event stream there is closed at once: a server may keep it open);
 * - only JSON-RPC 2.0 messages (the SDK's JSONRPCMessageSchema) are handed on, as from a stdio
 *   server: an event that is none is dropped and told to `onerror`, and its stream read on (the
 *   call's answer may follow); a JSON answer that is none fails its POST, as one that is not JSON;
 * - after `notifications/initialized` is answered 202, one GET event stream for messages outside
 *   any call (list changes, logs), reopened after a drop (up to 3 times in a row); a 405 means the
 *   server has none, another answer that is no stream (an error status, or a 2xx other than 200
 *   or of another content type) goes to `onEventStreamRefused` (tried again all the same). A
 *   server answering that notification 200 gets none, as from the SDK's transport (`send`, which
 *   starts it only on a 202): the spec has it answer 202 (MCP 2025-11-25 transports §Sending
 *   Messages to the Server, 4), and the GET is the client's to open or not (§Listening for
 *   Messages from the Server, 1: MAY);
 * - `terminateSession` sends DELETE (MCP transports §Session Management).
 * A JSON-RPC request's POST has no bound here: its answer may stream for as long as the call runs,
 * and the SDK's per-request timeout ends the call. A call the SDK gives up (its timeout, the
 * caller's cancellation) it tells the server with `notifications/cancelled`; once that is sent, the
 * call's POST is aborted too: a server does not answer a cancelled request (MCP 2025-11-25
 * basic/utilities/cancellation; the SDK's servers keep its stream open), so the POST stayed open,
 * a connection and a request held at the server, until the session ended. Everything else (a
 * notification, our response to the server's own request, the DELETE) has nothing else to end it,
 * so it gets `timeoutMs`: a server that never answered the POST of `notifications/initialized`
 * held the connection being opened (and its caller) for undici's 300 s, and a DELETE that never
 * ended delayed the error reply of the call that ended the session.
 * Every request carries only the headers `headersFor` gives (the server's own credentials, the
 * forwarded identity): nothing of the caller's. Redirects are not followed (a 3xx is an error), so
 * those headers never reach another host. Answers are capped (MAX_MESSAGE_BYTES per message).
 * Not supported, as the gateway does not use them: resuming a stream (`Last-Event-ID`), OAuth.
 */
import { setMaxListeners } from 'node:events';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { request, type Dispatcher } from 'undici';
import { mediaTypeOf } from './media-type-of.ts';

/** Largest JSON-RPC message (or JSON answer) accepted from an upstream. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const MAX_STREAM_RETRIES = 3;
/** What a cancelled request's POST is aborted with: its stream then fails, which is no error. */
const CANCELLED = new Error('the request was cancelled');
/** How long a request's stream may stay open after its response, by default (see #readEvents). */
const ANSWERED_STREAM_GRACE_MS = 1000;
/** What a stream kept open after its response is ended with: no error either. */
const ANSWERED = new Error('the request was answered');

/**
 * An upstream answered a message with an HTTP error status. Its body is not quoted: a server may
 * echo the request's headers (its own credentials, the identity token) there, and this message
 * reaches callers.
 */
export class UpstreamHttpError extends Error {
  override name = 'UpstreamHttpError';

  constructor(readonly status: number) {
    super(`it answered HTTP ${status}`);
  }
}

/** The upstream did not answer a message that expects no JSON-RPC response (or a DELETE) in time. */
export class UpstreamTimeoutError extends Error {
  override name = 'UpstreamTimeoutError';

  constructor(what: string, timeoutMs: number) {
    super(`it did not answer ${what} within ${timeoutMs / 1000} s`);
  }
}

/**
 * An answer to the GET for the event stream that is no stream: an error status, or a 2xx with
 * its content type (`contentType`, its first 100 characters; empty when it had none), which is no
 * refusal of the request and is not to be reported as one. A 2xx is no stream unless it is 200
 * and text/event-stream (in any case, with any parameters): a 201 or 204 with that type is
 * wrong by its status alone.
 */
export interface EventStreamRefusal {
  status: number;
  contentType?: string;
}

/** What `onerror` is told of a refusal when no `onEventStreamRefused` is given. */
function eventStreamError({ status, contentType }: EventStreamRefusal, events: boolean): Error {
  if (contentType === undefined) return new UpstreamHttpError(status);
  if (events) return new Error(`it answered its event stream (GET) with HTTP ${status}, not 200`);
  return new Error(`it answered its event stream (GET) with the content type ${JSON.stringify(contentType)}`);
}

export interface HttpClientTransportOptions {
  url: URL;
  /**
   * Milliseconds the upstream has to answer each POST that carries no JSON-RPC request (a
   * notification, a response) and each DELETE, body included. Not applied to a request's POST (the
   * SDK bounds the call) nor to the GET event stream (it is meant to stay open).
   */
  timeoutMs: number;
  /**
   * The headers of each request to the upstream (computed per request: an identity token
   * expires), given the message it carries (none: the GET event stream, the DELETE).
   */
  headersFor: (signal: AbortSignal, message?: JSONRPCMessage) => Promise<Record<string, string>>;
  dispatcher?: Dispatcher;
  /**
   * Told of each answer to the GET for the event stream that is neither a stream nor 405, instead
   * of `onerror`: a server that always refuses it refuses every session's, and http-upstream.ts
   * logs that per server, not per session. Without it, `onerror` is told.
   */
  onEventStreamRefused?: (refusal: EventStreamRefusal) => void;
  /** Milliseconds a request's stream may stay open after its response; ANSWERED_STREAM_GRACE_MS by default. */
  answeredStreamGraceMs?: number;
}

export class HttpClientTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  sessionId?: string;

  readonly #options: HttpClientTransportOptions;
  readonly #closing = new AbortController();
  /** Each JSON-RPC request sent and not yet answered, by id: its POST, aborted when it is cancelled. */
  readonly #pending = new Map<string | number, AbortController>();
  /**
   * Each JSON-RPC request's POST whose answer is still being read (its stream may outlast its
   * response): aborted by `close`. Each POST is given its own call's signal, and the transport's
   * closing reaches it through this set, not through `AbortSignal.any` of the two: that composite
   * signal (two signals made and linked per call) was the costliest JavaScript of a relayed call
   * in the gateway's profile (bench/gateway-echo.ts).
   */
  readonly #open = new Set<AbortController>();
  #protocolVersion: string | undefined;
  #closed = false;

  constructor(options: HttpClientTransportOptions) {
    this.#options = options;
    // Each notification, answer and DELETE in flight listens on this signal until it completes
    // (undici removes it then): as many listeners as those in flight, which is no leak. A
    // request's POST is reached through #open instead.
    setMaxListeners(0, this.#closing.signal);
  }

  async start(): Promise<void> {
    // Nothing to open: every message is its own request.
  }

  setProtocolVersion(version: string): void {
    this.#protocolVersion = version;
  }

  async send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    if ('method' in message && 'id' in message) return this.#sendRequest(message);
    const what = 'method' in message ? message.method : 'our response to its request';
    try {
      await this.#bounded(what, (signal) => this.#post(message, signal));
    } finally {
      // After the notification: the server is to learn of the cancellation from it, not from the
      // POST ending (MCP 2025-11-25 transports §Sending Messages to the Server: a disconnection
      // SHOULD NOT be taken as a cancellation).
      if ('method' in message && message.method === 'notifications/cancelled') this.#abandon(message.params?.requestId);
    }
  }

  async #sendRequest(message: JSONRPCMessage & { id: string | number }): Promise<void> {
    const call = new AbortController();
    if (this.#closing.signal.aborted) call.abort(this.#closing.signal.reason);
    this.#pending.set(message.id, call);
    this.#open.add(call);
    try {
      await this.#post(message, call.signal, () => this.#open.delete(call));
    } catch (err) {
      this.#pending.delete(message.id);
      this.#open.delete(call);
      throw err;
    }
  }

  /** Aborts the POST of a request the SDK gave up, if its answer has not come. */
  #abandon(requestId: unknown): void {
    const id = idOf(requestId);
    if (id === undefined) return;
    this.#pending.get(id)?.abort(CANCELLED);
    this.#pending.delete(id);
  }

  /**
   * Hands a message to the SDK; a response ends its request's wait for it. What the SDK throws
   * goes to `onerror`, as from the stdio transport: thrown from here, it stopped the reading of
   * the stream the message came on, and the call whose answer was still to come on it waited for
   * its timeout (the SDK's Protocol throws on a response to an unknown id nested deep enough:
   * JSON.stringify overflows the stack).
   */
  #deliver(message: JSONRPCMessage): void {
    const id = 'method' in message ? undefined : idOf((message as { id?: unknown }).id);
    if (id !== undefined) this.#pending.delete(id);
    try {
      this.onmessage?.(message);
    } catch (err) {
      this.#failed(err);
    }
  }

  /** `settled` is told once the answer's body is read to its end or let go. */
  async #post(message: JSONRPCMessage, signal: AbortSignal, settled?: () => void): Promise<void> {
    const answer = await this.#request('POST', message, { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, signal);
    if (settled) answer.body.once('close', settled);
    const sessionId = answer.headers['mcp-session-id'];
    if (typeof sessionId === 'string' && sessionId) this.sessionId = sessionId;

    if (answer.statusCode === 202) {
      await answer.body.dump();
      if ('method' in message && message.method === 'notifications/initialized') this.#openEventStream(0);
      return;
    }
    if (answer.statusCode < 200 || answer.statusCode > 299) {
      await answer.body.dump();
      throw new UpstreamHttpError(answer.statusCode);
    }
    const type = String(answer.headers['content-type'] ?? '');
    if (!('method' in message && 'id' in message)) {
      // A notification or an answer of ours has nothing to be answered with, and the spec says
      // 202; some servers say 200 with a body of `{}` or `null`. The SDK's own transport reads the
      // body only of a POST that carried a request, so such a server works there: here too. An
      // event stream is let go at once, as the SDK's transport cancels it: one the server kept
      // open held this send until `timeoutMs`, and with it (notifications/initialized) every
      // connection being opened. Any other body is read to its end in the background (the
      // connection is then used again), and let go after a grace if it does not end.
      if (type.startsWith('text/event-stream')) answer.body.on('error', () => { /* let go */ }).destroy();
      else this.#letGo(answer.body);
      return;
    }
    if (type.startsWith('text/event-stream')) {
      // The response comes on the stream, after any requests and notifications of the call; the
      // SDK's Protocol waits for it by id. Read after it was cancelled, the stream fails aborted:
      // the SDK has given the call up already, so that is no error.
      const request = idOf(message.id);
      this.#readEvents(answer.body, request).catch((err: unknown) => {
        if (signal.reason !== CANCELLED) this.#failed(err);
      });
      return;
    }
    if (type.startsWith('application/json')) {
      for (const one of parseAnswer(await readCapped(answer.body))) this.#deliver(one);
      return;
    }
    await answer.body.dump();
    throw new Error(`it answered with the content type ${JSON.stringify(type.slice(0, 100))}, not JSON or an event stream`);
  }

  /** Ends the upstream session (DELETE); a server that keeps no sessions answers 405, which is fine. */
  async terminateSession(): Promise<void> {
    if (!this.sessionId || this.#closed) return;
    await this.#bounded('the DELETE of its session', async (signal) => {
      const answer = await this.#request('DELETE', undefined, {}, signal);
      await answer.body.dump();
      if (answer.statusCode !== 405 && (answer.statusCode < 200 || answer.statusCode > 299)) throw new UpstreamHttpError(answer.statusCode);
    });
    this.sessionId = undefined;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new Error('the connection to the upstream was closed');
    this.#closing.abort(closed);
    for (const call of this.#open) call.abort(closed);
    this.#open.clear();
    this.#pending.clear();
    this.onclose?.();
  }

  /** Runs one exchange with the upstream, aborted after `timeoutMs`; that abort names `what`. */
  async #bounded(what: string, exchange: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const deadline = AbortSignal.timeout(this.#options.timeoutMs);
    try {
      await exchange(AbortSignal.any([this.#closing.signal, deadline]));
    } catch (err) {
      if (deadline.aborted && !this.#closing.signal.aborted) throw new UpstreamTimeoutError(what, this.#options.timeoutMs);
      throw err;
    }
  }

  async #request(method: 'POST' | 'GET' | 'DELETE', message: JSONRPCMessage | undefined, extra: Record<string, string>, signal = this.#closing.signal): Promise<Dispatcher.ResponseData> {
    const headers = { ...(await this.#options.headersFor(signal, message)), ...extra };
    if (this.sessionId) headers['mcp-session-id'] = this.sessionId;
    if (this.#protocolVersion) headers['mcp-protocol-version'] = this.#protocolVersion;
    const body = message === undefined ? undefined : JSON.stringify(message);
    return request(this.#options.url, { method, headers, body, signal, dispatcher: this.#options.dispatcher });
  }

  /** The server's own stream, for messages outside any call. */
  #openEventStream(failures: number): void {
    if (this.#closed || failures > MAX_STREAM_RETRIES) return;
    this.#request('GET', undefined, { accept: 'text/event-stream' })
      .then(async (answer) => {
        const type = String(answer.headers['content-type'] ?? '');
        const events = mediaTypeOf(type) === 'text/event-stream';
        if (answer.statusCode !== 200 || !events) {
          await answer.body.dump();
          if (answer.statusCode === 405) return;
          const answered = answer.statusCode >= 200 && answer.statusCode <= 299;
          const refusal: EventStreamRefusal = answered ? { status: answer.statusCode, contentType: type.slice(0, 100) } : { status: answer.statusCode };
          const refused = this.#options.onEventStreamRefused;
          if (!refused) throw eventStreamError(refusal, events);
          if (!this.#closed) refused(refusal);
          this.#reopen(failures + 1);
          return;
        }
        await this.#readEvents(answer.body);
        this.#reopen(0);
      })
      .catch((err: unknown) => {
        if (this.#closed) return;
        this.onerror?.(err as Error);
        this.#reopen(failures + 1);
      });
  }

  #reopen(failures: number): void {
    if (this.#closed) return;
    setTimeout(() => this.#openEventStream(failures), 1000 * (failures + 1)).unref();
  }

  /**
   * Delivers each `message` event of a stream until it ends. A request's stream should end once
   * that request's response has come (MCP transports §Sending Messages to the Server); one the
   * server keeps open is let go `answeredStreamGraceMs` after the response, as one held for the
   * session's lifetime held a socket per call.
   *
   * Not at once: a stream cut before its end costs its connection (undici cannot reuse a socket
   * in the middle of a response) and an error built with its stack trace, which cost the gateway
   * a quarter of its CPU per relayed call (bench/gateway-echo.ts: 1.13 ms, 0.82 ms once the end
   * is awaited), as SDK servers end the stream just after the response, not with it.
   */
  async #readEvents(body: Readable, request?: string | number): Promise<void> {
    let answered = false;
    let letGo: NodeJS.Timeout | undefined;
    const parser = new EventStreamParser((data) => {
      let message: JSONRPCMessage;
      try {
        message = eventMessageOf(data);
      } catch (err) {
        this.#failed(err);
        return;
      }
      if (request !== undefined && !('method' in message) && idOf((message as { id?: unknown }).id) === request) answered = true;
      this.#deliver(message);
    });
    const decoder = new StringDecoder('utf8');
    try {
      for await (const chunk of body) {
        parser.push(decoder.write(chunk as Buffer));
        if (answered) letGo ??= setTimeout(() => body.destroy(ANSWERED), this.#options.answeredStreamGraceMs ?? ANSWERED_STREAM_GRACE_MS).unref();
      }
    } catch (err) {
      body.destroy();
      if (err !== ANSWERED) throw err;
    } finally {
      clearTimeout(letGo);
    }
  }

  #failed(err: unknown): void {
    if (!this.#closed) this.onerror?.(err as Error);
  }

  /**
   * A body nobody reads (the answer to a notification): read to its end in the background if it
   * ends within the grace a request's stream gets after its response, so the connection is used
   * again; destroyed otherwise. Awaited, a body the server never ended held the send (and with
   * it, for notifications/initialized, every connection being opened) until `timeoutMs`.
   */
  #letGo(body: { dump(): Promise<void>; destroy(): unknown }): void {
    const timer = setTimeout(() => body.destroy(), this.#options.answeredStreamGraceMs ?? ANSWERED_STREAM_GRACE_MS).unref();
    body.dump().catch(() => { /* let go */ }).finally(() => clearTimeout(timer));
  }
}

/**
 * Server-sent events (HTML Living Standard §9.2.6, "Interpreting an event stream"), for what MCP
 * sends: `data` lines (joined with newlines), an `event` name (only `message`, or none, carries
 * JSON-RPC), comments and `id`/`retry` ignored; lines end in CRLF, LF or CR.
 *
 * The upstream is not trusted, so its cost stays linear however it cuts the stream: each chunk is
 * scanned for line ends once, and an unfinished line is kept as the pieces that brought it, joined
 * only when its end arrives (rescanning it from its start at every chunk made one long line sent
 * in small chunks quadratic: 8 MiB in 64 KiB chunks blocked the event loop for seconds). The cap
 * (MAX_MESSAGE_BYTES, counted in characters) is checked as each piece arrives, and on the data as
 * it will be joined (each data line with its newline: an event of empty data lines is not free).
 */
export class EventStreamParser {
  readonly #deliver: (data: string) => void;
  /** The line not yet ended, as it arrived. */
  #pending: string[] = [];
  #pendingLength = 0;
  /** The last chunk ended in CR: it ends a line, with the LF that may start the next chunk. */
  #heldCr = false;
  #data: string[] = [];
  #dataLength = 0;
  #event = '';
  // HTML §9.2.6: end-of-line = ( cr lf / cr / lf ). Global, for lastIndex: the scan resumes there.
  readonly #lineEnd = /\r\n|\r|\n/g;

  constructor(deliver: (data: string) => void) {
    this.#deliver = deliver;
  }

  push(chunk: string): void {
    if (chunk === '') return;
    let start = 0;
    if (this.#heldCr) {
      this.#heldCr = false;
      this.#endLine();
      if (chunk[0] === '\n') start = 1;
    }
    const lineEnd = this.#lineEnd;
    lineEnd.lastIndex = start;
    for (let end = lineEnd.exec(chunk); end !== null; end = lineEnd.exec(chunk)) {
      this.#append(chunk.slice(start, end.index));
      start = lineEnd.lastIndex;
      // A CR last in the chunk may be the first half of a CRLF: the next chunk says.
      if (end[0] === '\r' && start === chunk.length) {
        this.#heldCr = true;
        break;
      }
      this.#endLine();
    }
    this.#append(chunk.slice(start));
  }

  #append(piece: string): void {
    if (piece === '') return;
    this.#pending.push(piece);
    this.#pendingLength += piece.length;
    if (this.#pendingLength + this.#dataLength > MAX_MESSAGE_BYTES) {
      throw new Error(`an event of the upstream's stream is longer than ${MAX_MESSAGE_BYTES} bytes`);
    }
  }

  #endLine(): void {
    const line = this.#pending.length === 1 ? this.#pending[0]! : this.#pending.join('');
    this.#pending = [];
    this.#pendingLength = 0;
    this.#line(line);
  }

  #line(line: string): void {
    if (line === '') {
      // An empty data buffer dispatches nothing (servers send `data:` alone to prime a stream).
      const data = this.#data.join('\n');
      if (data !== '' && (this.#event === '' || this.#event === 'message')) this.#deliver(data);
      this.#data = [];
      this.#dataLength = 0;
      this.#event = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.#data.push(value);
      // With the newline that joins it to the next: an empty data line costs one, not nothing.
      this.#dataLength += value.length + 1;
      if (this.#dataLength > MAX_MESSAGE_BYTES + 1) throw new Error(`an event of the upstream's stream is longer than ${MAX_MESSAGE_BYTES} bytes`);
    } else if (field === 'event') {
      this.#event = value;
    }
  }
}

/** A JSON-RPC id (a string or a number), or undefined for anything else. */
function idOf(value: unknown): string | number | undefined {
  return typeof value === 'string' || typeof value === 'number' ? value : undefined;
}

/**
 * A JSON answer's messages: one, or a batch (MCP 2025-03-26). Its errors quote nothing of the
 * text: JSON.parse's quotes what it could not parse (all of a short body, ten characters either
 * side of the fault in a longer one), and this message reaches callers: a server, or a proxy in
 * front of it, may echo the request's credentials there.
 */
function parseAnswer(text: string): JSONRPCMessage[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('it answered with a body that is not JSON');
  }
  const messages = (Array.isArray(parsed) ? parsed : [parsed]).map(jsonRpcMessageOf);
  // JSON-RPC 2.0 §6: an empty batch is no message either.
  if (messages.length === 0 || messages.includes(undefined)) throw new Error('it answered with a body that is not JSON-RPC 2.0');
  return messages as JSONRPCMessage[];
}

/** The message of one event of a stream (never a batch: MCP 2025-11-25); its errors quote nothing either. */
function eventMessageOf(data: string): JSONRPCMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    throw new Error('an event of its stream is not JSON');
  }
  const message = jsonRpcMessageOf(parsed);
  if (!message) throw new Error('an event of its stream is not a JSON-RPC 2.0 message');
  return message;
}

/** `value` as a JSON-RPC 2.0 message, or undefined when it is none. */
function jsonRpcMessageOf(value: unknown): JSONRPCMessage | undefined {
  const message = JSONRPCMessageSchema.safeParse(value);
  return message.success ? message.data : undefined;
}

async function readCapped(body: Readable): Promise<string> {
  const decoder = new StringDecoder('utf8');
  let text = '';
  for await (const chunk of body) {
    text += decoder.write(chunk as Buffer);
    if (text.length > MAX_MESSAGE_BYTES) {
      body.destroy();
      throw new Error(`its answer is longer than ${MAX_MESSAGE_BYTES} bytes`);
    }
  }
  return text;
}
