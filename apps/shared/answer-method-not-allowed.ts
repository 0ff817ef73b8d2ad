/**
 * `405 Method Not Allowed` with an `Allow` header when a path exists but not for the request's
 * method (RFC 9110 §15.5.6: the Allow header is required), instead of a 404 (auth-server) or
 * @koa/router's 501 for any method it does not know, on any path (resource-server).
 *
 * - The methods a path has come from the @koa/router routes that matched it (`ctx.matched`,
 *   filled by each router's `routes()`), plus `routes` for paths served by something else
 *   (oidc-provider's endpoints).
 * - `GET` implies `HEAD`. An `OPTIONS` nobody answered gets `204` with `Allow`.
 * - Only a response nobody produced is touched (404 without a body): a handler's own 404 (an
 *   unknown MCP session, an unknown user) stays.
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

export function answerMethodNotAllowed(routes: readonly KnownRoute[] = []) {
  return async function answerMethodNotAllowedMiddleware(ctx: Context, next: Next): Promise<void> {
    await next();
    if (ctx.status !== 404 || ctx.body != null || ctx.respond === false) return;
    const allowed = new Set<string>();
    for (const layer of (ctx as Context & { matched?: MatchedLayer[] }).matched ?? []) {
      for (const method of layer.methods ?? []) allowed.add(method);
    }
    for (const route of routes) {
      if (route.path.test(ctx.path)) for (const method of route.methods) allowed.add(method);
    }
    if (allowed.size === 0 || allowed.has(ctx.method)) return;
    if (allowed.has('GET')) allowed.add('HEAD');
    allowed.add('OPTIONS');
    ctx.set('Allow', [...allowed].join(', '));
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      return;
    }
    ctx.status = 405;
    ctx.body = { error: 'invalid_request', error_description: `${ctx.method} is not allowed here` };
  };
}
