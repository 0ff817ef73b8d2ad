/**
 * Answers the commonest MCP request — one JSON-RPC request (a `tools/call`, a list, a read) POSTed
 * in an initialized session — on the Node response directly, with the session's own SDK transport
 * doing everything but the HTTP adapter: its Protocol dispatches the request, its `send` writes
 * each SSE event (with the SDK's own framing) and closes the stream once the response is written.
 *
 * Why: MCP SDK 1.32's Node transport turns every request into a Web `Request` and its answer into
 * a `Response` over a `ReadableStream` (through @hono/node-server), then back into Node writes.
 * For a tool call that adapter, its headers copy and its web stream cost more of the main thread
 * than the call's own work (bench/mcp-whoami.ts, bench/gateway-echo.ts: the CPU per call is in
 * issue 15's closing note).
 *
 * How: the answer's event stream is registered in the Web-standard transport's stream maps, as its
 * `handlePostRequest` registers a `ReadableStream` controller; the controller here writes to the
 * Node response instead. Same maps, same `send`, same keep-alive, same cleanup, so progress and
 * other messages related to the request, its response and the end of the stream behave as before.
 * The private fields are reached as replay-initialize.ts reaches them, and checked: an SDK that
 * renames them makes every request take the SDK's own path, never a wrong answer.
 *
 * Anything else goes to the SDK's own handling (`false` is returned), so every refusal keeps the
 * SDK's exact answer: a batch, `initialize`, a notification or response, a session id that is not
 * this transport's, an Accept without both types (406), a Content-Type that is not plainly
 * `application/json` (415 or the SDK's reading of it), an unsupported `MCP-Protocol-Version`
 * (400), a message the JSON-RPC schema refuses, a transport with an event store or JSON answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { JSONRPCMessageSchema, SUPPORTED_PROTOCOL_VERSIONS, type JSONRPCMessage, type MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';

/** What the SDK's `send` and cleanup use of a stream's controller and encoder. */
interface StreamController {
  enqueue(chunk: string): void;
  close(): void;
}

interface StreamEntry {
  controller: StreamController;
  encoder: { encode(text: string): string };
  cleanup(): void;
}

/** The Web-standard transport's private state this module reads and writes (SDK 1.32). */
interface TransportInternals {
  sessionId?: string;
  sessionIdGenerator?: () => string;
  _initialized: boolean;
  _closed: boolean;
  _enableJsonResponse: boolean;
  _eventStore?: unknown;
  _streamMapping: Map<string, StreamEntry>;
  _requestToStreamMapping: Map<string | number, string>;
  startKeepAlive(controller: StreamController, encoder: StreamEntry['encoder']): ReturnType<typeof setInterval> | undefined;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
}

/** The SDK writes SSE text through `encoder.encode`; a Node response takes the text as it is. */
const PASS_TEXT = { encode: (text: string) => text };

/** The headers the SDK's POST answer carries (webStandardStreamableHttp.js, handlePostRequest). */
const EVENT_STREAM_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
};

/**
 * Answers `req` if it is a plain request in this session and returns true; returns false, having
 * written nothing, for the SDK's transport to handle.
 */
export function answerSessionRequest(
  transport: StreamableHTTPServerTransport,
  req: IncomingMessage,
  res: ServerResponse,
  auth: AuthInfo,
  rpcBody: unknown,
): boolean {
  const inner = internalsOf(transport);
  if (!inner || !isPlainRequest(req, rpcBody, inner)) return false;
  const parsed = JSONRPCMessageSchema.safeParse(rpcBody);
  if (!parsed.success || !('id' in parsed.data) || !('method' in parsed.data)) return false;
  const message = parsed.data;

  const streamId = randomUUID();
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  const controller: StreamController = {
    enqueue: (chunk) => {
      if (!res.writableEnded) res.write(chunk);
    },
    close: () => {
      if (!res.writableEnded) res.end();
    },
  };
  const cleanup = () => {
    if (keepAlive !== undefined) clearInterval(keepAlive);
    inner._streamMapping.delete(streamId);
    controller.close();
  };
  inner._streamMapping.set(streamId, { controller, encoder: PASS_TEXT, cleanup });
  inner._requestToStreamMapping.set(message.id, streamId);
  // The client went away before the response: as the SDK's stream `cancel`, forget the stream
  // (a response written later finds none), unless a later registration replaced it.
  res.once('close', () => {
    if (keepAlive !== undefined) clearInterval(keepAlive);
    if (inner._streamMapping.get(streamId)?.controller === controller) inner._streamMapping.delete(streamId);
  });

  // Set, not written: should dispatch throw, the caller can still answer with its own status.
  for (const [name, value] of Object.entries(EVENT_STREAM_HEADERS)) res.setHeader(name, value);
  res.setHeader('mcp-session-id', inner.sessionId!);
  try {
    inner.onmessage?.(message, { authInfo: auth, requestInfo: requestInfoOf(req) });
  } catch (err) {
    inner._streamMapping.get(streamId)?.cleanup();
    inner._requestToStreamMapping.delete(message.id);
    throw err;
  }
  // The head leaves now, as the SDK's answer's does, so a slow tool's caller has its headers (an
  // answer already written during dispatch, e.g. an unknown method's error, sent it with itself).
  if (!res.headersSent) res.flushHeaders();
  if (inner._streamMapping.get(streamId)?.controller === controller) keepAlive = inner.startKeepAlive(controller, PASS_TEXT);
  return true;
}

/**
 * The id of a request in `rpcBody` (one message or a batch) that this session's transport is still
 * answering, or undefined. JSON-RPC 2.0 §4: an id identifies one request. The transport keeps one
 * stream per request id (`_requestToStreamMapping`, here and in the SDK's own POST handling), so a
 * second request with the id of one in progress took over its stream: the first one's answer was
 * written to the second's stream or dropped, and its HTTP request was never answered. Only a
 * request whose stream is still open holds its id: once its client closed it (e.g. after
 * cancelling), the id may be used again, as before.
 */
export function requestIdInProgress(transport: StreamableHTTPServerTransport, rpcBody: unknown): string | number | undefined {
  const inner = internalsOf(transport);
  if (!inner || inner._requestToStreamMapping.size === 0) return undefined;
  for (const message of Array.isArray(rpcBody) ? rpcBody : [rpcBody]) {
    if (typeof message !== 'object' || message === null) continue;
    const { id, method } = message as { id?: unknown; method?: unknown };
    if (typeof method !== 'string' || (typeof id !== 'string' && typeof id !== 'number')) continue;
    const streamId = inner._requestToStreamMapping.get(id);
    if (streamId !== undefined && inner._streamMapping.has(streamId)) return id;
  }
  return undefined;
}

function internalsOf(transport: StreamableHTTPServerTransport): TransportInternals | undefined {
  const inner = (transport as unknown as { _webStandardTransport?: unknown })._webStandardTransport;
  if (!(inner instanceof WebStandardStreamableHTTPServerTransport)) return undefined;
  const internals = inner as unknown as TransportInternals;
  const known = internals._streamMapping instanceof Map && internals._requestToStreamMapping instanceof Map
    && typeof internals.startKeepAlive === 'function';
  return known ? internals : undefined;
}

/** Everything the SDK would check before answering with an event stream, in the plain case only. */
function isPlainRequest(req: IncomingMessage, rpcBody: unknown, inner: TransportInternals): boolean {
  if (req.method !== 'POST' || typeof rpcBody !== 'object' || rpcBody === null || Array.isArray(rpcBody)) return false;
  const body = rpcBody as { method?: unknown; id?: unknown };
  if (typeof body.method !== 'string' || body.method === 'initialize' || body.id === undefined) return false;
  if (inner._closed || !inner._initialized || inner.sessionIdGenerator === undefined || inner.sessionId === undefined) return false;
  if (inner._enableJsonResponse || inner._eventStore !== undefined) return false;
  const { accept, 'content-type': contentType, 'mcp-session-id': sessionId, 'mcp-protocol-version': version } = req.headers;
  if (sessionId !== inner.sessionId) return false;
  if (!accept?.includes('application/json') || !accept.includes('text/event-stream')) return false;
  if (!isPlainJsonContentType(contentType)) return false;
  return version === undefined || (typeof version === 'string' && (SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(version));
}

/** `application/json`, any case, with at most a charset parameter; anything subtler is the SDK's to judge. */
function isPlainJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  const lower = value.toLowerCase();
  return lower === 'application/json' || /^application\/json; ?charset=(?:"utf-8"|utf-8)$/.test(lower);
}

/**
 * What handlers see of the HTTP request, as the SDK gives it (a Fetch `Headers` flattened: names in
 * lower case, repeated values joined by ", "); the URL is built only if a handler reads it.
 */
function requestInfoOf(req: IncomingMessage): NonNullable<MessageExtraInfo['requestInfo']> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  let url: URL | undefined;
  return {
    headers,
    get url() {
      return url ??= new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    },
  } as NonNullable<MessageExtraInfo['requestInfo']>;
}
