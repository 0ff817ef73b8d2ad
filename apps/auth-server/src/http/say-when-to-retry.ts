/**
 * Every 503 the auth-server answers says when to try again: `Retry-After: 5` (RFC 9110 §10.2.3),
 * as the resource server's answer to the same outage does (answer-database-unavailable.ts).
 *
 * - A 503 here means the database cannot be reached (DatabaseUnavailableError), wherever it was
 *   answered: oidc-provider's JSON errors (/oauth/token, /oauth/register), its error page
 *   (renderError), Gatehouse's own pages and the sign-in form (error-pages.ts), or /readyz. The
 *   provider's error handler keeps the error to itself, so the answer's status is what is read.
 * - A Retry-After set already (none today) is kept.
 *
 * Deliberately not done: guessing when the database is back. Five seconds is a pause for a
 * client to retry after, not a promise.
 */
import type { Context, Next } from 'koa';

export const RETRY_AFTER_SECONDS = 5;

export async function sayWhenToRetry(ctx: Context, next: Next): Promise<void> {
  await next();
  if (ctx.status === 503 && !ctx.response.get('Retry-After')) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
}
