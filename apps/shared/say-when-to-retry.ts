/**
 * Every 503 either app answers says when to try again: `Retry-After: 5` (RFC 9110 §10.2.3). A
 * 503 here means something the request needs is briefly out of reach: the database
 * (DatabaseUnavailableError), a readiness check (/readyz), and on the resource server the
 * issuer's key set or the revocation list (a token that cannot be checked) or the auth-server's
 * metadata (a guessed `/token` that cannot be redirected).
 *
 * - `sayWhenToRetry`, in each app's Koa stack outside its error handling, adds it to every 503
 *   the Koa app answers, whoever set the status: on the auth-server oidc-provider's JSON errors
 *   and error page (the provider's error handler keeps the error to itself, so the answer's status
 *   is what is read), Gatehouse's pages and the sign-in form (error-pages.ts), /readyz; on the
 *   resource server /readyz, the guessed endpoints and handle-errors.ts.
 * - The resource server's MCP endpoint answers without Koa (mcp-request-listener.ts): its 503s set
 *   `RETRY_AFTER_SECONDS` themselves (require-bearer-token.ts, answer-database-unavailable.ts).
 * - A Retry-After set already is kept.
 *
 * Deliberately not done: guessing when the outage ends. Five seconds is a pause for a client to
 * retry after, not a promise.
 */
import type { Context, Next } from 'koa';

/** What a 503's `Retry-After` says, in seconds. */
export const RETRY_AFTER_SECONDS = 5;

export async function sayWhenToRetry(ctx: Context, next: Next): Promise<void> {
  await next();
  if (ctx.status === 503 && !ctx.response.get('Retry-After')) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
}
