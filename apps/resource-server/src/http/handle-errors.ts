/**
 * The resource-server's one error middleware, outermost in the stack.
 *
 * - 4xx raised by Koa or a middleware: its status, an RFC 6749 §5.2-style `error` code and the
 *   message, which Koa marks safe to show (`expose`).
 * - The database unreachable (DatabaseUnavailableError): 503 `temporarily_unavailable`, logged at
 *   warn (as answer-database-unavailable.ts on the MCP path); sayWhenToRetry, outside this
 *   middleware, adds Retry-After.
 * - Anything else: 500 `server_error` with no message, stack or SQL; the error goes to the log.
 * - Unknown paths: 404 `not_found` as JSON rather than Koa's text body.
 * - The client went away or sent malformed HTTP mid-request: logged at info, answered 400 (if
 *   anyone is still listening), never counted as our failure.
 */
import type { Next, ParameterizedContext } from 'koa';
import { isClientConnectionError } from '../../../shared/is-client-connection-error.ts';
import { DatabaseUnavailableError } from '../../../shared/storage/database-unavailable-error.ts';
import type { Logger } from '../../../shared/logger.ts';
import type { ResourceServerState } from './resource-server-state.ts';

interface HttpError extends Error {
  status?: number;
  expose?: boolean;
  /** Set when `message` is a code rather than words (e.g. NulCharacterError). */
  error_description?: string;
}

export function handleErrors(logger: Logger) {
  return async function handleErrorsMiddleware(ctx: ParameterizedContext<ResourceServerState>, next: Next): Promise<void> {
    try {
      await next();
      if (ctx.status === 404 && ctx.body == null && ctx.respond !== false) {
        ctx.body = { error: 'not_found' };
        ctx.status = 404; // assigning a body to a response whose status was never set makes it 200
      }
    } catch (caught) {
      const err = caught as HttpError;
      if (isClientConnectionError(caught)) {
        logger.info({ requestId: ctx.state.requestId, method: ctx.method, path: ctx.path.slice(0, 512), reason: (err as { code?: string }).code ?? err.message }, 'request aborted by the client');
        ctx.status = 400;
        ctx.body = { error: 'invalid_request' };
        return;
      }
      if (caught instanceof DatabaseUnavailableError) {
        logger.warn({ reason: caught.cause instanceof Error ? caught.cause.message : undefined }, 'database unavailable');
        ctx.status = 503;
        ctx.body = { error: caught.error, error_description: caught.error_description };
        return;
      }
      const status = typeof err.status === 'number' && err.status >= 400 && err.status < 600 ? err.status : 500;
      if (status < 500 && err.expose) {
        ctx.status = status;
        ctx.body = { error: 'invalid_request', error_description: err.error_description ?? err.message };
        return;
      }
      logger.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
      ctx.status = status < 500 ? 400 : 500;
      ctx.body = { error: status < 500 ? 'invalid_request' : 'server_error' };
    }
  };
}
