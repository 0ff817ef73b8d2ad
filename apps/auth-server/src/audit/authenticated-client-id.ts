/**
 * The client a refusal at the token endpoint may be recorded against: the one that authenticated.
 *
 * oidc-provider finds the client by its `client_id` before it checks the secret or assertion, so
 * `ctx.oidc.client` is set on an `invalid_client` refusal too: recording it there would let anyone
 * who knows a client_id write audit rows in that client's name.
 */
import type { KoaContextWithOIDC } from 'oidc-provider';

export function authenticatedClientId(ctx: KoaContextWithOIDC, error: unknown): string | undefined {
  return error === 'invalid_client' ? undefined : ctx.oidc?.client?.clientId;
}
