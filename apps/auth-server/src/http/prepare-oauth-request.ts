/**
 * Runs in front of oidc-provider on /oauth/* and fixes up requests before anything is consumed:
 *
 * - Caps request bodies (DCR at `registration.max_body_bytes`, other endpoints at 16 KiB) with
 *   413 `invalid_request` instead of the provider's 56 KiB.
 * - RFC 8707: `<resource>/` is the same resource as `<resource>` (SDKs append the slash to
 *   origin-only URLs). The provider compares resources exactly and the refresh grant consumes the
 *   old refresh token before it resolves `resource`, so the slash is removed here, first.
 * - At /oauth/token, a `resource` other than ours is refused with `invalid_target` here, because
 *   the provider would consume the refresh token (or code) before it noticed.
 * - An authorization request without `scope` gets the configured default scopes.
 *
 * Deliberately not done here: any other validation; the provider answers with RFC error codes.
 */
import type { Context, Next } from 'koa';
import { readBody } from './read-body.ts';

export interface PrepareOptions {
  resource: string;
  defaultScopes: string[];
  registrationBodyLimit: number;
}

const DEFAULT_BODY_LIMIT = 16 * 1024;

/**
 * The route oidc-provider will dispatch `path` to: its router ignores ASCII case and one trailing
 * slash (`/OAUTH/TOKEN/` is the token endpoint), so this middleware must match the same way or
 * those spellings would skip it.
 */
export function routeOf(path: string): string {
  const lower = path.toLowerCase();
  return lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
}

function normaliseParams(params: URLSearchParams, options: PrepareOptions, isAuthorization: boolean): boolean {
  let changed = false;
  const resources = params.getAll('resource');
  if (resources.includes(`${options.resource}/`)) {
    params.delete('resource');
    for (const value of resources) params.append('resource', value === `${options.resource}/` ? options.resource : value);
    changed = true;
  }
  if (isAuthorization && !params.get('scope')?.trim()) {
    params.set('scope', options.defaultScopes.join(' '));
    changed = true;
  }
  return changed;
}

/** oidc-provider reads `ctx.request.body` when the stream was already consumed. */
function setParsedBody(ctx: Context, body: string): void {
  (ctx.request as { body?: unknown }).body = body;
}

export function prepareOAuthRequest(options: PrepareOptions) {
  return async function prepareOAuthRequestMiddleware(ctx: Context, next: Next): Promise<void> {
    const route = routeOf(ctx.path);
    const isAuthorization = route === '/oauth/authorize';
    if (isAuthorization && ctx.method === 'GET') {
      const params = new URLSearchParams(ctx.querystring);
      if (normaliseParams(params, options, true)) ctx.querystring = params.toString();
    } else if (ctx.method === 'POST' && route.startsWith('/oauth/')) {
      const limit = route === '/oauth/register' ? options.registrationBodyLimit : DEFAULT_BODY_LIMIT;
      const body = await readBody(ctx, limit);
      if (ctx.is('application/x-www-form-urlencoded')) {
        const params = new URLSearchParams(body);
        const isToken = route === '/oauth/token';
        if (isToken && params.getAll('resource').some((r) => r !== options.resource && r !== `${options.resource}/`)) {
          ctx.status = 400;
          ctx.set('Cache-Control', 'no-store');
          ctx.body = { error: 'invalid_target', error_description: 'the requested resource is not served by this authorization server' };
          return;
        }
        setParsedBody(ctx, (isToken || isAuthorization) && normaliseParams(params, options, isAuthorization)
          ? params.toString()
          : body);
      } else {
        setParsedBody(ctx, body);
      }
    }
    await next();
  };
}
