/**
 * The scope of a client credentials request (RFC 6749 §4.4.2), settled before oidc-provider's
 * handler (lib/actions/grants/client_credentials.js) reads it. Called from
 * `getResourceServerInfo`, which that handler runs first (resolveRequestedResources), because the
 * provider offers no hook between parsing the request and reading its `scope`.
 *
 * - No `scope`: the service account's scopes (RFC 6749 §3.3: "process the request using a
 *   pre-defined default value"). The MCP SDK's ClientCredentialsProvider and
 *   PrivateKeyJwtProvider send `scope` only when configured with one.
 * - Every requested scope must be one of the service account's, unknown ones included:
 *   otherwise `invalid_scope` (RFC 6749 §5.2), not a token quietly missing what was asked for.
 *   (The provider itself refuses only known scopes beyond the client's `scope`.)
 *
 * Returns the scopes the resource may put in the token: the service account's MCP scopes.
 */
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { CLIENT_CREDENTIALS, serviceScopes } from '../registration/service-account-policy.ts';

export function isClientCredentialsRequest(ctx: KoaContextWithOIDC): boolean {
  return ctx.oidc.route === 'token' && ctx.oidc.params?.grant_type === CLIENT_CREDENTIALS;
}

export function settleServiceAccountScope(ctx: KoaContextWithOIDC): string {
  const allowed = serviceScopes(ctx.oidc.client?.scope);
  const params = ctx.oidc.params as { scope?: string };
  const requested = (params.scope ?? '').split(' ').filter(Boolean);
  if (requested.length === 0) {
    params.scope = allowed.join(' ');
  } else {
    const beyond = requested.find((scope) => !allowed.includes(scope));
    if (beyond !== undefined) throw new errors.InvalidScope('requested scope is not allowed for this service account', beyond);
  }
  return allowed.join(' ');
}
