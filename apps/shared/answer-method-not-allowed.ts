/**
 * `405 Method Not Allowed` with an `Allow` header when a path exists but not for the request's
 * method (RFC 9110 §15.5.6: the Allow header is required), instead of a 404 (auth-server) or
 * @koa/router's 501 for any method it does not know, on any path (resource-server).
 *
 * - The methods a path has come from the @koa/router routes that matched it (`ctx.matched`,
 *   filled by each router's `routes()`), plus `routes` for paths served by something else
 *   (oidc-provider's endpoints).
 * - `GET` implies `HEAD`. An `OPTIONS` nobody answered gets `204` with `Allow`.
 * - An `OPTIONS` someone else answered (a CORS preflight, which oidc-provider and the CORS
 *   middlewares answer with 204 and Access-Control-Allow-Methods) gets the same `Allow` when it
 *   has none, so a preflight and a plain OPTIONS name the same methods (RFC 9110 §9.3.7).
 * - Only a response nobody produced is turned into a 405 (404 without a body): a handler's own
 *   404 (an unknown MCP session, an unknown user) stays.
 * - Paths that exist for no method stay 404.
 */
import type { Context, Next } from 'koa';

export interface KnownRoute {
  /** Matched against the path as the router that serves it would (e.g. case-folded, one trailing slash dropped). */
  path: RegExp;
  methods: readonly string[];
}

interface MatchedLayer {
  methods?: string[];
}

/** The methods `ctx.path` is served for; empty when it has none. */
function routeMethods(ctx: Context, routes: readonly KnownRoute[]): Set<string> {
  const allowed = new Set<string>();
  for (const layer of (ctx as Context & { matched?: MatchedLayer[] }).matched ?? []) {
    for (const method of layer.methods ?? []) allowed.add(method);
  }
  for (const route of routes) {
    if (route.path.test(ctx.path)) for (const method of route.methods) allowed.add(method);
  }
  return allowed;
}

/** The Allow header for a path served for `methods` (not empty): GET implies HEAD, and OPTIONS is always answered. */
function allowHeader(methods: Set<string>): string {
  const allowed = new Set(methods);
  if (allowed.has('GET')) allowed.add('HEAD');
  allowed.add('OPTIONS');
  return [...allowed].join(', ');
}

export function answerMethodNotAllowed(routes: readonly KnownRoute[] = []) {
  return async function answerMethodNotAllowedMiddleware(ctx: Context, next: Next): Promise<void> {
    await next();
    if (ctx.respond === false) return;
    if (ctx.method === 'OPTIONS' && ctx.status >= 200 && ctx.status < 300) {
      if (!ctx.response.get('Allow')) {
        const methods = routeMethods(ctx, routes);
        if (methods.size > 0) ctx.set('Allow', allowHeader(methods));
      }
      return;
    }
    if (ctx.status !== 404 || ctx.body != null) return;
    const methods = routeMethods(ctx, routes);
    if (methods.size === 0 || methods.has(ctx.method)) return;
    ctx.set('Allow', allowHeader(methods));
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      return;
    }
    ctx.status = 405;
    ctx.body = { error: 'invalid_request', error_description: `${ctx.method} is not allowed here` };
  };
}
