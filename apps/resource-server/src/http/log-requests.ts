/**
 * One debug line per request: method, path (never the query string, which might hold a token a
 * client put there despite RFC 6750 §2.3), status and duration.
 */
import type { Context, Next } from 'koa';
import type { Logger } from '../../../shared/logger.ts';

export function logRequests(logger: Logger) {
  return async function logRequestsMiddleware(ctx: Context, next: Next): Promise<void> {
    if (!logger.isLevelEnabled('debug')) return next();
    const started = performance.now();
    try {
      await next();
    } finally {
      const status = ctx.respond === false ? ctx.res.statusCode : ctx.status;
      logger.debug({ method: ctx.method, path: ctx.path, status, ms: Math.round(performance.now() - started) }, 'request');
    }
  };
}
