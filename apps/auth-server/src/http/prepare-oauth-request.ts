/**
 * Runs in front of oidc-provider on /oauth/* and fixes up requests before anything is consumed:
 *
 * - Caps request bodies (DCR at `registration.max_body_bytes`, other endpoints at 16 KiB) with
 *   413 `invalid_request` instead of the provider's 56 KiB.
 * - RFC 8707: `<resource>/`, `<resource>?…` and `<resource>#…` are the same resource as
 *   `<resource>` (own-resource.ts says which spellings and why). The provider compares resources
 *   exactly and the refresh grant consumes the old refresh token before it resolves `resource`, so
 *   they are replaced by the configured URL here, first.
 * - At /oauth/token, a `resource` other than ours is refused with `invalid_target` here, because
 *   the provider would consume the refresh token (or code) before it noticed. Not for the token
 *   exchange grant: its `resource` names an upstream, and it consumes nothing
 *   (token-exchange/token-exchange-grant.ts checks it).
 * - An authorization request without `scope` (or with one that is empty) gets the configured
 *   default scopes (RFC 6749 §3.3), and so does a plain OAuth request (no `openid`) that names none
 *   of the resource's scopes, beside what it named (`offline_access`, or a scope this server does
 *   not know, such as Claude's `claudeai`): such a request can only be for the resource, and the
 *   consent had nothing to grant, so the user signed in and approved and was then sent back with
 *   access_denied. An OpenID request naming only identity scopes is left as it is: it may want
 *   only to know who signed in (the admin pages' own sign-in asks for `openid` alone). A repeated
 *   `scope` is left for the provider to refuse.
 * - The resume endpoint (`/oauth/authorize/<uid>`) takes no parameters (the request lives in the
 *   interaction session), so its query string is dropped: the provider's error handler would
 *   otherwise look up the query's `client_id` and then read parameters that were never parsed
 *   (500 on `/oauth/authorize/x?client_id=<a registered client>`).
 * - DCR: a JSON body with a non-string `*_alg`/`*_enc` member is refused with
 *   `invalid_client_metadata` (RFC 7591 §3.2.2): the provider reads those before validating them.
 *
 * Deliberately not done here: any other validation; the provider answers with RFC error codes.
 */
import type { Context, Next } from 'koa';
import { nonStringAlgorithmField } from '../registration/non-string-algorithm-field.ts';
import { MCP_SCOPES } from '../../../shared/mcp-scopes.ts';
import { TOKEN_EXCHANGE_GRANT_TYPE } from '../token-exchange/token-exchange-grant-type.ts';
import { isOwnResource } from './own-resource.ts';
import { readBody } from './read-body.ts';

export interface PrepareOptions {
  resource: string;
  defaultScopes: string[];
  registrationBodyLimit: number;
  /** Told of each token request refused here for its resource (the connection recorder). */
  onTargetRefused?: (ctx: Context, params: URLSearchParams) => void;
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

/**
 * Whether a request reads like a GET: the provider's router serves every GET route to HEAD too
 * (lib/helpers/router.js), running the whole action (a HEAD /oauth/authorize stores an
 * interaction as a GET does), so whatever this app decides for a GET must hold for a HEAD.
 */
export function isGetOrHead(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

function normaliseParams(params: URLSearchParams, options: PrepareOptions, isAuthorization: boolean): boolean {
  let changed = false;
  const resources = params.getAll('resource');
  if (resources.some((value) => value !== options.resource && isOwnResource(value, options.resource))) {
    params.delete('resource');
    for (const value of resources) params.append('resource', isOwnResource(value, options.resource) ? options.resource : value);
    changed = true;
  }
  // Only when there is at most one `scope`: filling in replaces every value, and a repeated one
  // must reach the provider, which refuses it (RFC 6749 §3.1: no parameter more than once).
  const scopes = params.getAll('scope');
  if (isAuthorization && scopes.length <= 1) {
    const named = scopes[0]?.trim() ?? '';
    if (!named) {
      params.set('scope', options.defaultScopes.join(' '));
      changed = true;
    } else if (namesNothingOfTheResource(named)) {
      // Appended to the value as it came: one the provider refuses (invalid characters) stays refused.
      params.set('scope', `${scopes[0]} ${options.defaultScopes.join(' ')}`);
      changed = true;
    }
  }
  return changed;
}

/** A plain OAuth scope (no `openid`) naming none of the resource's scopes. */
function namesNothingOfTheResource(scope: string): boolean {
  const named = scope.split(' ');
  return !named.includes('openid') && !named.some((s) => (MCP_SCOPES as readonly string[]).includes(s));
}

/** The member of a JSON registration body that would crash the provider, if any. */
function malformedRegistrationField(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined; // the provider answers invalid_request itself
  }
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
    ? nonStringAlgorithmField(parsed as Record<string, unknown>)
    : undefined;
}

function refuse(ctx: Context, error: string, description: string): void {
  ctx.status = 400;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error, error_description: description };
}

/** oidc-provider reads `ctx.request.body` when the stream was already consumed. */
function setParsedBody(ctx: Context, body: string): void {
  (ctx.request as { body?: unknown }).body = body;
}

export function prepareOAuthRequest(options: PrepareOptions) {
  return async function prepareOAuthRequestMiddleware(ctx: Context, next: Next): Promise<void> {
    const route = routeOf(ctx.path);
    const isAuthorization = route === '/oauth/authorize';
    if (/^\/oauth\/authorize\/[^/]+$/.test(route)) {
      ctx.querystring = '';
    } else if (isAuthorization && isGetOrHead(ctx.method)) {
      const params = new URLSearchParams(ctx.querystring);
      if (normaliseParams(params, options, true)) ctx.querystring = params.toString();
    } else if (ctx.method === 'POST' && route.startsWith('/oauth/')) {
      const limit = route === '/oauth/register' ? options.registrationBodyLimit : DEFAULT_BODY_LIMIT;
      const body = await readBody(ctx, limit);
      if (ctx.is('application/x-www-form-urlencoded')) {
        const params = new URLSearchParams(body);
        const isToken = route === '/oauth/token';
        const namesUpstream = params.get('grant_type') === TOKEN_EXCHANGE_GRANT_TYPE;
        if (isToken && !namesUpstream && params.getAll('resource').some((r) => !isOwnResource(r, options.resource))) {
          options.onTargetRefused?.(ctx, params);
          refuse(ctx, 'invalid_target', 'the requested resource is not served by this authorization server');
          return;
        }
        setParsedBody(ctx, (isToken || isAuthorization) && normaliseParams(params, options, isAuthorization)
          ? params.toString()
          : body);
      } else {
        const malformed = route === '/oauth/register' ? malformedRegistrationField(body) : undefined;
        if (malformed) {
          refuse(ctx, 'invalid_client_metadata', `${malformed} must be a string`);
          return;
        }
        setParsedBody(ctx, body);
      }
    }
    await next();
  };
}
