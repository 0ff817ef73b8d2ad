/**
 * Routes the errors Koa reports outside the middleware chain (`app.on('error')`: a response
 * stream that failed, a socket that broke after the handler ran) to the JSON logger.
 *
 * Without a listener Koa prints them to stderr as a multi-line, indented stack, which breaks
 * "one JSON object per line" for every log collector. A client's own connection trouble (gone
 * away, malformed HTTP) is logged at info with its code; anything else at error.
 */
import type Koa from 'koa';
import type { Context } from 'koa';
import { isClientConnectionError } from './is-client-connection-error.ts';
import type { Logger } from './logger.ts';

export function logAppErrors(app: Koa, logger: Logger): void {
  app.on('error', function logAppError(err: Error & { code?: unknown }, ctx?: Context) {
    // The request's own target, not `ctx.path`: that parses it, and throws on a target no URL
    // parser reads, here outside any handler, which ended the process.
    const where = { method: ctx?.method, path: ctx?.originalUrl?.split('?')[0]?.slice(0, 512), requestId: ctx?.state?.requestId as string | undefined };
    if (isClientConnectionError(err)) logger.info({ ...where, reason: typeof err.code === 'string' ? err.code : err.message }, 'client connection error');
    else logger.error({ ...where, err }, 'unhandled application error');
  });
}
