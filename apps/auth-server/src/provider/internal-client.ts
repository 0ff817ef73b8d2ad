/**
 * Gatehouse's own, first-party client: the administration pages and the "connected apps" page
 * sign people in through the provider's real sign-in (the same page, throttle and federation as
 * every app), with this client, and then read the provider's browser session.
 *
 * - A static public client (PKCE, no secret) whose only redirect URI is our own /admin/callback,
 *   so its codes never leave this server; they are destroyed at the callback, never redeemed.
 * - It asks only for `openid`, and consent is implied (it is this server itself): the grant is
 *   created in `loadExistingGrant`, so the consent page never appears for it.
 * - Its grants are hidden from the "connected apps" lists.
 */
import type { ClientMetadata, KoaContextWithOIDC } from 'oidc-provider';
import { CLIENT_KIND } from '../registration/client-metadata-policy.ts';

export const INTERNAL_CLIENT_ID = 'gatehouse';
export const INTERNAL_CALLBACK_PATH = '/admin/callback';

export function internalClientMetadata(issuer: string): ClientMetadata {
  return {
    client_id: INTERNAL_CLIENT_ID,
    client_name: 'Gatehouse',
    redirect_uris: [`${issuer}${INTERNAL_CALLBACK_PATH}`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    [CLIENT_KIND]: 'internal',
  };
}

/**
 * oidc-provider's `loadExistingGrant`: the default lookup (this interaction's consent, else the
 * session's grant for the client), plus an implied `openid` grant for the internal client.
 */
export async function loadExistingGrant(ctx: KoaContextWithOIDC) {
  const { oidc } = ctx;
  const clientId = oidc.client!.clientId;
  const grantId = oidc.result?.consent?.grantId ?? oidc.session!.grantIdFor(clientId);
  const existing = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (existing || clientId !== INTERNAL_CLIENT_ID || !oidc.account) return existing;
  const grant = new oidc.provider.Grant({ accountId: oidc.account.accountId, clientId });
  grant.addOIDCScope('openid');
  await grant.save();
  return grant;
}
