/**
 * Answers one MCP 2026-07-28 request (stateless: no session, no `initialize`; SEP-2575) with the
 * same MCP server, tools and scope checks a session gets, on the MCP SDK 1.x this project runs.
 *
 * SDK 1.32 knows only the session-based revisions, so each request gets a server of its own,
 * connected over an in-memory transport, and an implicit `initialize` made from the request's
 * per-request `_meta` (basic/index §Statelessness: "Every request supplies this metadata"), then
 * the request itself, with the caller's verified token as `authInfo` as the HTTP transport gives
 * it. The answer is then shaped as the revision's schema requires:
 *
 * - Every result gets `resultType: "complete"` (schema.ts Result) and
 *   `_meta["io.modelcontextprotocol/serverInfo"]` (SHOULD, ResultMetaObject).
 * - tools/list, prompts/list, resources/list, resources/templates/list and resources/read are
 *   CacheableResults (`ttlMs`, `cacheScope`): `private`, since what a caller sees depends on their
 *   token's scopes and on per-user servers.
 * - `server/discover` (MUST, basic/versioning) is answered from the implicit initialize's result.
 * - An unknown method, and `initialize` itself (not a method of this revision), answer `-32601`,
 *   which the HTTP step sends with status 404 (transports/streamable-http §Protocol Version Header).
 * - A notification is accepted and dropped: the revision defines no client notification over
 *   Streamable HTTP (§Sending Messages); cancellation is the client closing its response.
 * - Progress for the request's own `progressToken` is handed to `onProgress` as it comes (the HTTP
 *   step streams it, §Receiving Messages); every other server notification (list changes, logs)
 *   is dropped: they need `subscriptions/listen` or `logLevel`, which this path does not serve.
 *
 * What SDK 1.32 cannot give this path (it needs a 2026-07-28 SDK, e.g. @modelcontextprotocol/server
 * 2.x): server-to-client requests as Multi Round-Trip Requests (SEP-2322) — so the implicit
 * initialize declares no sampling, elicitation or roots and the gateway relays none; log
 * notifications (`_meta.logLevel`); `subscriptions/listen` (so `server/discover` advertises no
 * `listChanged`).
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { LATEST_PROTOCOL_VERSION, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';
import { JSON_RPC_ERROR, META, SUPPORTED_VERSIONS } from './modern-protocol.ts';

/** A 2026-07-28 message whose headers and envelope check-mcp-request-metadata.ts has checked. */
export interface StatelessRequest {
  /** Set for a request; absent for a notification. */
  message: { id?: string | number; method: string; params: Record<string, unknown> };
  protocolVersion: string;
  /** `_meta["io.modelcontextprotocol/clientInfo"]` as sent (self-reported, display only). */
  clientInfo?: unknown;
}

export interface StatelessAnswer {
  /** 200, 404 for an unknown method, 202 for a notification. */
  status: number;
  /** Undefined for 202. */
  body?: Record<string, unknown>;
}

/**
 * The answer, or undefined when `signal` aborted (the client went away) before it. `onProgress`
 * gets each `notifications/progress` for the request's progress token before the answer.
 */
export type AnswerStatelessRequest = (
  request: StatelessRequest,
  auth: VerifiedAccessToken,
  signal: AbortSignal,
  onProgress?: (notification: Record<string, unknown>) => void,
) => Promise<StatelessAnswer | undefined>;

/** How long a client may reuse a list (in milliseconds): tool lists change rarely, and calls are checked anyway. */
const LIST_TTL_MS = 60_000;
/** Resource contents are live data: no reuse. */
const READ_TTL_MS = 0;
const CACHE_TTL_MS: Readonly<Record<string, number>> = {
  'tools/list': LIST_TTL_MS,
  'prompts/list': LIST_TTL_MS,
  'resources/list': LIST_TTL_MS,
  'resources/templates/list': LIST_TTL_MS,
  'resources/read': READ_TTL_MS,
  'server/discover': LIST_TTL_MS,
};
const IMPLICIT_INITIALIZE_ID = 'gatehouse-implicit-initialize';
/** The envelope is for the hop to Gatehouse; upstream servers speak their own session's revision. */
const ENVELOPE_KEYS: readonly string[] = [META.protocolVersion, META.clientInfo, META.clientCapabilities, META.logLevel];

export function statelessRequestAnswerer(createServer: (subject: string) => Server): AnswerStatelessRequest {
  return async function answerStatelessRequest(request, auth, signal, onProgress) {
    const { id, method, params } = request.message;
    if (id === undefined) return { status: 202 };
    if (method === 'initialize') {
      return notFound(id, 'initialize is not a method of protocol revision 2026-07-28: send each request with its _meta (server/discover describes this server)');
    }

    const server = createServer(auth.extra.subject);
    const progressToken = (params._meta as { progressToken?: unknown } | undefined)?.progressToken;
    try {
      const exchange = await openExchange(server, auth, (notification) => {
        const { method: kind, params: about } = notification as { method?: string; params?: { progressToken?: unknown } };
        if (kind === 'notifications/progress' && progressToken !== undefined && about?.progressToken === progressToken) onProgress?.(notification);
      });
      const initialized = await exchange.request({
        jsonrpc: '2.0',
        id: IMPLICIT_INITIALIZE_ID,
        method: 'initialize',
        params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: clientInfoOf(request.clientInfo) },
      }, signal);
      if (!initialized) return undefined;
      if (!('result' in initialized)) throw new Error('the implicit initialize failed');
      await exchange.notify({ jsonrpc: '2.0', method: 'notifications/initialized' });
      const init = initialized.result as { capabilities: Record<string, unknown>; serverInfo: unknown; instructions?: string };

      const answer = method === 'server/discover'
        ? { jsonrpc: '2.0', id, result: discoverResult(init) }
        : await exchange.request({ jsonrpc: '2.0', id, method, params: withoutEnvelope(params) }, signal);
      if (!answer) return undefined;
      if ('error' in answer) {
        const { code } = answer.error as { code: number };
        return { status: code === JSON_RPC_ERROR.methodNotFound ? 404 : 200, body: answer };
      }
      return { status: 200, body: { ...answer, result: shapeResult(method, answer.result as Record<string, unknown>, init.serverInfo) } };
    } finally {
      await server.close();
    }
  };
}

interface Exchange {
  /** The server's answer, or undefined when `signal` aborts first (the request is then cancelled). */
  request(message: JSONRPCMessage & { id: string | number }, signal: AbortSignal): Promise<Record<string, unknown> | undefined>;
  notify(message: JSONRPCMessage): Promise<void>;
}

/** Connects `server` to the client end of an in-memory pair that sends as `auth`; notifications go to `onNotification`. */
async function openExchange(server: Server, auth: VerifiedAccessToken, onNotification: (message: Record<string, unknown>) => void): Promise<Exchange> {
  const [client, serverEnd] = InMemoryTransport.createLinkedPair();
  const pending = new Map<string | number, (answer: Record<string, unknown>) => void>();
  client.onmessage = (message) => {
    const { id, method } = message as { id?: string | number; method?: string };
    if (id === undefined) {
      onNotification(message as Record<string, unknown>);
      return;
    }
    if (method === undefined) {
      pending.get(id)?.(message as Record<string, unknown>);
      pending.delete(id);
      return;
    }
    // A request from the server (sampling, elicitation, roots): this client declared none.
    client.send({ jsonrpc: '2.0', id, error: { code: JSON_RPC_ERROR.methodNotFound, message: `${method} is not available to a stateless request` } })
      .catch(() => { /* the exchange is over */ });
  };
  await server.connect(serverEnd);
  await client.start();
  return {
    request(message, signal) {
      if (signal.aborted) return Promise.resolve(undefined);
      return new Promise((resolve, reject) => {
        const onAbort = () => {
          pending.delete(message.id);
          // MCP 2025-11-25 basic/utilities/cancellation: the server stops work on it.
          client.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: message.id, reason: 'the client closed the request' } })
            .catch(() => { /* the exchange is over */ });
          resolve(undefined);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        pending.set(message.id, (answer) => {
          signal.removeEventListener('abort', onAbort);
          resolve(answer);
        });
        client.send(message, { authInfo: auth }).catch(reject);
      });
    },
    notify: (message) => client.send(message, { authInfo: auth }),
  };
}

/** Result fields 2026-07-28 requires; an existing `resultType` (an upstream's) is kept. */
function shapeResult(method: string, result: Record<string, unknown>, serverInfo: unknown): Record<string, unknown> {
  const ttlMs = CACHE_TTL_MS[method];
  return {
    resultType: 'complete',
    ...result,
    ...(ttlMs === undefined || method === 'server/discover' ? {} : { ttlMs, cacheScope: 'private' }),
    _meta: { ...(result._meta as Record<string, unknown> | undefined), [META.serverInfo]: serverInfo },
  };
}

/**
 * schema.ts DiscoverResult, from what the server answered the implicit initialize. Without
 * `listChanged` or `logging`: their notifications need a stream this path does not keep.
 */
function discoverResult(init: { capabilities: Record<string, unknown>; serverInfo: unknown; instructions?: string }): Record<string, unknown> {
  const capabilities = Object.fromEntries(Object.entries(init.capabilities)
    .filter(([name]) => name !== 'logging')
    .map(([name, value]) => [name, withoutListChanged(value)]));
  return {
    resultType: 'complete',
    supportedVersions: SUPPORTED_VERSIONS,
    capabilities,
    ...(init.instructions ? { instructions: init.instructions } : {}),
    ttlMs: CACHE_TTL_MS['server/discover'],
    cacheScope: 'private',
    _meta: { [META.serverInfo]: init.serverInfo },
  };
}

function withoutListChanged(capability: unknown): unknown {
  if (typeof capability !== 'object' || capability === null) return capability;
  const { listChanged: _listChanged, ...rest } = capability as Record<string, unknown>;
  return rest;
}

function withoutEnvelope(params: Record<string, unknown>): Record<string, unknown> {
  const meta = params._meta as Record<string, unknown> | undefined;
  if (!meta) return params;
  const kept = Object.fromEntries(Object.entries(meta).filter(([key]) => !ENVELOPE_KEYS.includes(key)));
  const { _meta: _envelope, ...rest } = params;
  return Object.keys(kept).length > 0 ? { ...rest, _meta: kept } : rest;
}

/** The client's self-reported name and version when well-formed (the SDK requires both), else a placeholder. */
function clientInfoOf(clientInfo: unknown): { name: string; version: string } {
  const { name, version } = (typeof clientInfo === 'object' && clientInfo !== null ? clientInfo : {}) as Record<string, unknown>;
  return typeof name === 'string' && typeof version === 'string' ? { name, version } : { name: 'stateless-client', version: '0' };
}

function notFound(id: string | number, message: string): StatelessAnswer {
  return { status: 404, body: { jsonrpc: '2.0', id, error: { code: JSON_RPC_ERROR.methodNotFound, message } } };
}
