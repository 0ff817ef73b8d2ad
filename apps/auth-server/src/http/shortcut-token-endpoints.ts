/**
 * The short way to oidc-provider for the endpoints clients call at machine rate: POST
 * /oauth/token (every refresh grant), /oauth/revoke and /oauth/introspect.
 *
 * - Mounted after what every request needs (request id, log line and metrics, the Host check,
 *   security headers, the error middleware) and in front of what none of these requests uses:
 *   the 405 answerer (POST is allowed on them), the health probes (GET only), registration CORS
 *   (/oauth/register only), the stylesheet, page, interaction and federation routers and the
 *   revocation feed (none has a route on these paths). Each of those was a step through the
 *   middleware chain, and a router match, on every token request.
 * - `chain` is what such a request does need, in the order the full stack runs it: CORS for the
 *   refusals of the steps before the provider (readable-refusals.ts), the rate limit, the refusal
 *   of repeated Authorization headers (refuse-repeated-authorization.ts), the fix-ups in front of
 *   the provider (prepare-oauth-request.ts), the provider.
 * - Matched the way oidc-provider routes (routeOf: any ASCII case, one trailing slash), so no
 *   spelling of these paths skips the chain's guards by taking the long way.
 * - A request the provider does not handle ends here (404, as at the end of the full stack),
 *   instead of running on through the rest of the stack.
 *
 * Measured on refresh grants: see the commit that added it.
 */
import type { Context, Middleware, Next } from 'koa';
import { routeOf } from './prepare-oauth-request.ts';

const SHORTCUT_ROUTES = new Set(['/oauth/token', '/oauth/revoke', '/oauth/introspect']);

const done = (): Promise<void> => Promise.resolve();

export function shortcutTokenEndpoints(chain: readonly Middleware[]) {
  const run = (ctx: Context, i: number): Promise<unknown> => (i === chain.length ? done() : Promise.resolve(chain[i]!(ctx, () => run(ctx, i + 1))));
  return function shortcutTokenEndpointsMiddleware(ctx: Context, next: Next): Promise<unknown> {
    if (ctx.method !== 'POST' || !SHORTCUT_ROUTES.has(routeOf(ctx.path))) return next();
    return run(ctx, 0);
  };
}
