/**
 * Claims added to a client credentials access token (oidc-provider `extraTokenClaims`): the
 * service account's name under SERVICE_CLAIM, so the resource server can show the caller as a
 * service. `sub` and `client_id` are the client's id already (oidc-provider's JWT format,
 * RFC 9068 §2.2). No `gid`: the grant is not stored, there is nothing to revoke but the client
 * (the revocation feed's client entry does that).
 */
import type { KoaContextWithOIDC } from 'oidc-provider';
import { SERVICE_CLAIM } from '../../../shared/service-claim.ts';

type Client = NonNullable<KoaContextWithOIDC['oidc']['client']>;

export function serviceTokenClaims(client: Client | undefined): Record<string, string> {
  return { [SERVICE_CLAIM]: client?.clientName ?? client?.clientId ?? '' };
}
