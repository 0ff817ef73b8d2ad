/**
 * Hands an authenticated request to the MCP SDK's Streamable HTTP transport for its session.
 *
 * - With `Mcp-Session-Id`: the session must exist (on any replica) and belong to the token's
 *   subject; otherwise 404 (MCP 2025-11-25 transports §Session Management: the client then starts
 *   a new session).
 * - Without: a fresh transport, which opens a session if the request is `initialize`; any other
 *   request is answered 400 `Mcp-Session-Id header is required` (transports §Session
 *   Management), after the checks the SDK makes first.
 * - A request whose id is that of a request the session is still answering: 400 with `-32600
 *   Invalid Request` and `id: null` (JSON-RPC 2.0 §4: an id identifies one request; the error
 *   must not be taken for the answer to the first), which keeps its stream and gets its answer
 *   (answer-session-request.ts, requestIdInProgress).
 * - A body that is JSON but not a JSON-RPC 2.0 message (or batch of them; an empty batch too):
 *   400 with `-32600 Invalid Request` (JSON-RPC 2.0 §5.1, §6). The SDK 1.x answers it `-32700
 *   Parse error`, which is for text that is not JSON (typescript-sdk#563), and an empty batch 202.
 *   Checked only where the SDK would check it: after its 406 for an Accept without both types.
 * - A JSON-RPC batch where the protocol has none: 400 with `-32600 Invalid Request`. MCP 2025-06-18
 *   removed batching (changelog; transports §Sending Messages: the POST body MUST be a single
 *   request, notification or response), so a session that negotiated 2025-06-18 or later is
 *   served one message per POST; sessions of 2025-03-26 (which MUST support receiving batches,
 *   basic §JSON-RPC Batching) and earlier still get them. The negotiated version decides, not
 *   the `MCP-Protocol-Version` header. An `initialize` in a batch is refused in every revision
 *   (2025-03-26 lifecycle §Initialization: it MUST NOT be part of a batch), before a session is
 *   opened for it. The SDK 1.x serves batches in every session, whatever it negotiated. Checked
 *   after the SDK's 406, as the body check above.
 * - An `initialize` without an id (a notification), or with one that is not a string or an
 *   integer: 400 with `-32600`, and no session recorded. The lifecycle's initialize is a request
 *   the server answers with the session's id; the SDK's initialize schema does not look at the
 *   id, so a notification opened a session answered 202 without naming it (nobody could use it,
 *   and it counted against the user's limit until it idled out).
 * - An `initialize` whose params the SDK's InitializeRequestSchema refuses (no `clientInfo`, a
 *   `protocolVersion` that is not a string, `capabilities` that are not an object): 400 with
 *   `-32602 Invalid params` naming the first wrong member, under the request's id (JSON-RPC 2.0
 *   §5.1), and no session recorded. The transport let it through to a server that could not
 *   initialize, and the caller got `-32000 Server not initialized` with `id: null`. Checked after
 *   the SDK's 406 and the JSON-RPC check, as those.
 * - No session is recorded for a request the SDK will refuse before it issues an id: one without
 *   both Accept types (its 406) or not JSON-RPC (the 400 above, answered first here). Recording
 *   one ends the user's least recently used session past the limit, even if the request then
 *   fails and the record is dropped.
 * - A session's GET stream is ended once the token it was opened with is refused (expired or
 *   revoked), when `watchStream` is given (watch-stream-token.ts); so is a POST's answer still
 *   streaming, its requests cancelled and answered with an error (end-refused-post.ts).
 * - Everything else is the SDK's: Accept and Content-Type checks, the 400 for an unsupported
 *   `MCP-Protocol-Version`, 405 for other methods, DELETE ending a session.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { ErrorCode, InitializeRequestSchema, JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../../../shared/logger.ts';
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';
import { answerSessionRequest, requestIdInProgress } from '../mcp/answer-session-request.ts';
import type { McpSessions } from '../mcp/mcp-sessions.ts';
import { answerJson } from './answer-json.ts';
import { coalesceWrites } from './coalesce-writes.ts';
import { endRefusedPost } from './end-refused-post.ts';
import type { WatchStreamToken } from './watch-stream-token.ts';

export type ServeMcpRequest = (req: IncomingMessage, res: ServerResponse, auth: VerifiedAccessToken, rpcBody: unknown) => Promise<void>;

export function serveMcpRequest(sessions: McpSessions, logger: Logger, watchStream?: WatchStreamToken): ServeMcpRequest {
  return async function serveMcpRequestStep(req, res, auth, rpcBody) {
    const sessionId = req.headers['mcp-session-id'];

    let transport;
    let protocolVersion: string | undefined;
    let discard: (() => Promise<void>) | undefined;
    if (sessionId) {
      const session = await sessions.find(String(sessionId), auth.extra.subject);
      if (!session) {
        answerJson(res, 404, { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
        return;
      }
      ({ transport, protocolVersion } = session);
    } else {
      const refusal = initializeRefusal(req, rpcBody) ?? (isNotJsonRpc(req, rpcBody) ? invalidRequest(NOT_JSON_RPC) : undefined);
      if (refusal) return refuse(res, refusal);
      if (needsSessionId(req, rpcBody)) {
        answerJson(res, 400, { jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: Mcp-Session-Id header is required' }, id: null });
        return;
      }
      // Without both Accept types the SDK answers 406 before it issues an id: nothing to record.
      ({ transport, discard } = await sessions.start(auth.extra.subject, acceptsBoth(req) ? rpcBody : undefined));
    }

    const inProgress = discard ? undefined : requestIdInProgress(transport, rpcBody);
    if (inProgress !== undefined) {
      answerJson(res, 400, { jsonrpc: '2.0', error: { code: -32600, message: `Invalid Request: request ${JSON.stringify(inProgress)} is still in progress in this session` }, id: null });
      return;
    }

    // The transport reads the caller from `req.auth` and passes it to tool handlers as `authInfo`.
    (req as IncomingMessage & { auth?: AuthInfo }).auth = auth;
    coalesceWrites(res);
    if (req.method === 'POST') watchStream?.(res, auth, () => endRefusedPost(transport, res, auth, rpcBody));
    try {
      // A plain request in an established session skips the SDK's Web-standard adapter.
      if (discard || !answerSessionRequest(transport, req, res, auth, rpcBody)) {
        // Without a session it was asked before the session was started.
        if (!discard && isNotJsonRpc(req, rpcBody)) return refuse(res, invalidRequest(NOT_JSON_RPC));
        if (Array.isArray(rpcBody) && acceptsBoth(req) && protocolVersion !== undefined && protocolVersion >= FIRST_VERSION_WITHOUT_BATCHES) {
          return refuse(res, invalidRequest(`protocol version ${protocolVersion} has no JSON-RPC batches: send each message in a POST of its own`));
        }
        // A session's one GET stream (the SDK answers a second one 409), so the stream it closes is this one.
        if (req.method === 'GET' && !discard) watchStream?.(res, auth, () => transport.closeStandaloneSSEStream());
        await transport.handleRequest(req, res, rpcBody);
      }
    } catch (err) {
      logger.error({ err }, 'mcp transport failed');
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal error' }, id: null }));
      } else {
        res.destroy();
      }
    } finally {
      await discard?.();
    }
  };
}

const NOT_JSON_RPC = 'the body is not a JSON-RPC 2.0 message';

/**
 * Whether a request without a session id is one the SDK would refuse for the want of one: not an
 * `initialize`, and past the checks the SDK makes first (its 406 and 415, a body that is not
 * JSON), which it still answers. MCP 2025-11-25 transports §Session Management: a server that
 * requires a session SHOULD answer such a request 400. A fresh transport answers it 400 too, but
 * with `Server not initialized`, which tells the client nothing of the header it left out.
 */
function needsSessionId(req: IncomingMessage, rpcBody: unknown): boolean {
  if (req.method === 'DELETE') return true;
  if (req.method === 'GET') return req.headers.accept?.includes('text/event-stream') === true;
  return req.method === 'POST' && rpcBody !== undefined && acceptsBoth(req) && !isInitialize(rpcBody);
}

/** Whether the SDK gets past its 406 for a POST: the Accept header names both types. */
function acceptsBoth(req: IncomingMessage): boolean {
  const accept = req.headers.accept;
  return accept !== undefined && accept.includes('application/json') && accept.includes('text/event-stream');
}

/** MCP 2025-06-18 changelog: "Remove support for JSON-RPC batching". Versions are dates, so they compare as strings. */
const FIRST_VERSION_WITHOUT_BATCHES = '2025-06-18';

function isInitialize(message: unknown): message is { method: 'initialize'; id?: unknown } {
  return typeof message === 'object' && message !== null && (message as { method?: unknown }).method === 'initialize';
}

/** A JSON-RPC error answered with 400 before the request reaches a transport. */
interface Refusal {
  code: number;
  message: string;
  id: string | number | null;
}

/**
 * Why a body without a session id that holds an `initialize` cannot open a session, or undefined.
 * Asked before the session is recorded: recording it ends the user's least recently used
 * sessions beyond the limits. Its params are judged only once the SDK would read the body (its
 * 406 first) and it is a JSON-RPC message (else -32600 for the whole body, isNotJsonRpc).
 */
function initializeRefusal(req: IncomingMessage, rpcBody: unknown): Refusal | undefined {
  if (Array.isArray(rpcBody)) return rpcBody.some(isInitialize) ? invalidRequest('initialize must not be part of a JSON-RPC batch') : undefined;
  if (!isInitialize(rpcBody)) return undefined;
  // The SDK's RequestIdSchema: a string or an integer (JSON-RPC 2.0 §4: no fractions, null discouraged).
  const { id } = rpcBody;
  if (typeof id !== 'string' && !Number.isInteger(id)) return invalidRequest('initialize is a request: its id must be a string or an integer');
  if (!acceptsBoth(req) || !JSONRPCMessageSchema.safeParse(rpcBody).success) return undefined;
  const parsed = InitializeRequestSchema.safeParse(rpcBody);
  if (parsed.success) return undefined;
  // Worded as register-request-handler.ts words the other requests' -32602.
  const issue = parsed.error.issues[0]!;
  return { code: ErrorCode.InvalidParams, message: `Invalid params: ${issue.path.map(String).join('.')}: ${issue.message}`, id: id as string | number };
}

function refuse(res: ServerResponse, { code, message, id }: Refusal): void {
  answerJson(res, 400, { jsonrpc: '2.0', error: { code, message }, id });
}

/** -32600 with a null id (JSON-RPC 2.0 §5: a batch refused as a whole, a notification, or no usable id). */
function invalidRequest(why: string): Refusal {
  return { code: ErrorCode.InvalidRequest, message: `Invalid Request: ${why}`, id: null };
}

/**
 * Whether a parsed JSON POST body (undefined when there is none: GET, DELETE, another content
 * type) is not one JSON-RPC message or a non-empty batch of them, and the SDK would read it (its
 * 406 for an Accept without both types comes first, webStandardStreamableHttp.js handlePostRequest).
 */
function isNotJsonRpc(req: IncomingMessage, rpcBody: unknown): boolean {
  if (rpcBody === undefined || !acceptsBoth(req)) return false;
  const messages = Array.isArray(rpcBody) ? rpcBody : [rpcBody];
  return messages.length === 0 || messages.some((message) => !JSONRPCMessageSchema.safeParse(message).success);
}
