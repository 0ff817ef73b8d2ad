/**
 * Hands an authenticated MCP 2026-07-28 request (checked by check-mcp-request-metadata.ts) to
 * answerStatelessRequest and sends its answer (transports/streamable-http §Sending Messages: a
 * server answers a request with `application/json` or an SSE stream scoped to it):
 *
 * - One JSON object, unless progress for the request's `progressToken` comes first: then an SSE
 *   stream (`X-Accel-Buffering: no`, §Receiving Messages) carrying each progress notification and
 *   ending with the answer.
 * - 404 for `-32601` (§Protocol Version Header), 202 with no body for a notification.
 *
 * - No session: an `Mcp-Session-Id` the client sends anyway is ignored, and none is issued
 *   (§Backward Compatibility: "ignore it, and do not mint or echo session IDs").
 * - The client closing the request cancels it (§Cancellation); nothing is written after that.
 * - So does its access token being refused while it runs (expired or revoked), when `watch` is
 *   given (watch-stream-token.ts): the request is answered with an error at once
 *   (end-refused-post.ts says why).
 * - A failure is answered `-32603 Internal error` and logged, never with its message.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../../shared/logger.ts';
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';
import type { AnswerStatelessRequest, StatelessRequest } from '../mcp/answer-stateless-request.ts';
import { JSON_RPC_ERROR } from '../mcp/modern-protocol.ts';
import { answerJson } from './answer-json.ts';
import { refusedTokenAnswer } from './end-refused-post.ts';
import type { WatchStreamToken } from './watch-stream-token.ts';

export type ServeStatelessRequest = (req: IncomingMessage, res: ServerResponse, auth: VerifiedAccessToken, request: StatelessRequest) => Promise<void>;

export function serveStatelessRequest(answer: AnswerStatelessRequest, logger: Logger, watch?: WatchStreamToken): ServeStatelessRequest {
  return async function serveStatelessRequestStep(_req, res, auth, request) {
    const closed = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) closed.abort();
    };
    res.once('close', onClose);
    let streaming = false;
    watch?.(res, auth, () => {
      closed.abort();
      const ended = refusedTokenAnswer(request.message.id ?? null);
      if (streaming) res.end(sseEvent(ended));
      else answerJson(res, 200, ended);
    });
    const onProgress = (notification: Record<string, unknown>) => {
      if (closed.signal.aborted) return;
      if (!streaming) {
        streaming = true;
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' });
      }
      res.write(sseEvent(notification));
    };
    try {
      const answered = await answer(request, auth, closed.signal, onProgress);
      if (!answered || closed.signal.aborted) return;
      if (streaming) {
        res.end(sseEvent(answered.body));
        return;
      }
      if (!answered.body) {
        res.writeHead(answered.status).end();
        return;
      }
      answerJson(res, answered.status, answered.body);
    } catch (err) {
      if (closed.signal.aborted) return; // ended meanwhile: answered, or nobody to answer
      logger.error({ err, method: request.message.method }, 'a stateless mcp request failed');
      if (res.headersSent) res.destroy();
      else answerJson(res, 500, { jsonrpc: '2.0', id: request.message.id ?? null, error: { code: JSON_RPC_ERROR.internalError, message: 'Internal error' } });
    } finally {
      res.off('close', onClose);
    }
  };
}

/** One SSE event carrying a JSON-RPC message, as the MCP SDK's transport writes them. */
function sseEvent(message: unknown): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}
