/**
 * Ends a POST whose answer is still streaming once the access token it was sent with is no longer
 * accepted (expired or revoked: watch-stream-token.ts decides), as the session's GET stream is
 * ended. A POST's event stream lasts as long as its request runs: a gateway tool that works for
 * minutes kept sending its progress, log messages and result to a caller whose user had been
 * disabled meanwhile (MCP 2025-11-25 authorization §Token Handling: a token that is expired or
 * revoked is not to be honoured).
 *
 * - Each request of the POST is cancelled as the caller would cancel it (notifications/cancelled,
 *   MCP 2025-11-25 utilities §Cancellation): its handler's signal aborts, a gateway call tells its
 *   server, and the SDK's Protocol sends no answer of its own.
 * - A single request is answered with a JSON-RPC error through the transport, which ends the
 *   stream as any answer does: the client's call fails at once instead of waiting out its own
 *   timeout, and its next request gets the 401 challenge. A request already answered has no
 *   stream left (the transport forgets it with its answer), so nothing is written twice.
 * - A batch (2025-03-26 sessions and earlier) is ended without answers: one request of it may
 *   have been answered on the stream already, and the SDK does not say which.
 */
import type { ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';

const REASON = 'the access token this request was sent with is no longer accepted (expired or revoked)';

/** The answer to a request ended because its access token is refused while it runs. */
export function refusedTokenAnswer<Id extends string | number | null>(id: Id) {
  // ConnectionClosed: the server ended this request's exchange, for the reason given.
  return { jsonrpc: '2.0' as const, id, error: { code: ErrorCode.ConnectionClosed, message: `Request ended: ${REASON}` } };
}

export function endRefusedPost(transport: Transport, res: ServerResponse, auth: AuthInfo, rpcBody: unknown): void {
  const ids = (Array.isArray(rpcBody) ? rpcBody : [rpcBody]).map(requestIdOf).filter((id) => id !== undefined);
  for (const requestId of ids) {
    transport.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason: REASON } }, { authInfo: auth });
  }
  if (!Array.isArray(rpcBody) && ids.length === 1) {
    transport.send(refusedTokenAnswer(ids[0]!)).catch(() => { /* answered already: its stream is gone */ });
    return;
  }
  if (!res.writableEnded) res.end();
}

function requestIdOf(message: unknown): string | number | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const { id, method } = message as { id?: unknown; method?: unknown };
  return typeof method === 'string' && (typeof id === 'string' || typeof id === 'number') ? id : undefined;
}
