/**
 * The client a refusal at the token endpoint may be recorded against: the one that authenticated.
 *
 * oidc-provider sets `ctx.oidc.client` when it looks the client up, before it checks the secret or
 * assertion, and can still refuse the authentication after that with `invalid_client` or with
 * `invalid_request` (lib/shared/client_auth.js: "client authentication must only be provided using
 * one mechanism", for an OAuth-Client-Attestation header beside a client_id). So a client set on
 * the context proves nothing: recording it would let anyone who knows a client_id write audit rows
 * in that client's name. What proves it is a step the provider takes only after `authenticateClient`
 * called next() (lib/actions/token.js):
 *
 * - our grant handler started (`markClientAuthenticated`, first thing in each handler);
 * - the provider's `allowedGrantTypeCheck` refused the grant type for this client, which it does
 *   between authentication and the handler (answer-unauthorized-client.ts).
 *
 * Deliberately not counted: the provider's other refusals in that window (a repeated parameter,
 * `scope` with invalid characters) are recorded without a client. No documented hook runs there.
 */
import type { KoaContextWithOIDC } from 'oidc-provider';

const NOT_ALLOWED = 'requested grant type is not allowed for this client';

const authenticated = new WeakSet<KoaContextWithOIDC>();

/** Called by a grant handler registered with provider.registerGrantType: the provider runs it only after client authentication. */
export function markClientAuthenticated(ctx: KoaContextWithOIDC): void {
  authenticated.add(ctx);
}

export function authenticatedClientId(ctx: KoaContextWithOIDC, refusal: { error?: unknown; error_description?: unknown }): string | undefined {
  const afterAuthentication = authenticated.has(ctx) || (refusal.error === 'invalid_request' && refusal.error_description === NOT_ALLOWED);
  return afterAuthentication ? ctx.oidc?.client?.clientId : undefined;
}
