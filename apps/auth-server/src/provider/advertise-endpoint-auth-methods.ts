/**
 * Authorization Server Metadata (RFC 8414 §2) for the revocation endpoint: the client
 * authentication methods and signing algorithms it accepts, which are the token endpoint's
 * (oidc-provider authenticates a client the same way at both, shared/client_auth.js).
 *
 * oidc-provider publishes neither list, and RFC 8414 gives `revocation_endpoint_auth_methods_supported`
 * a default, `client_secret_basic`, when it is left out: a public client (claude.ai's DCR
 * registration, `none`) that reads the metadata learns it cannot revoke its refresh token, and
 * some send Basic with an empty secret, which is refused, leaving the token live after the user
 * disconnects. (Introspection has no such default, and only the resource server calls it.)
 */
import type { Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

export async function advertiseEndpointAuthMethods(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
  await next();
  if (ctx.oidc?.route !== 'discovery' || ctx.status !== 200 || typeof ctx.body !== 'object' || ctx.body === null) return;
  const metadata = ctx.body as Record<string, unknown>;
  if (typeof metadata.revocation_endpoint !== 'string') return;
  metadata.revocation_endpoint_auth_methods_supported ??= metadata.token_endpoint_auth_methods_supported;
  if (metadata.token_endpoint_auth_signing_alg_values_supported !== undefined) {
    metadata.revocation_endpoint_auth_signing_alg_values_supported ??= metadata.token_endpoint_auth_signing_alg_values_supported;
  }
}
