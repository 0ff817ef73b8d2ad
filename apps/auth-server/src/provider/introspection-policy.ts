/**
 * Who may learn what `/oauth/introspect` knows about a token (RFC 7662).
 *
 * - RFC 7662 §2.1 and §4: the server decides per caller. A client sees its own tokens; a client an
 *   administrator registered as the resource server for our resource (RESOURCE_SERVER_FOR) also
 *   sees tokens meant for that resource (an access token's `aud`, a refresh token's `resource`).
 *   Everyone else, including any other confidential client, gets `{"active": false}` — the same
 *   answer as for an unknown token, so the response does not reveal that the token exists.
 * - A public client (`none`) is never a resource server: it proves nothing about who it is.
 *
 * Deliberately not decided here: whether the token is valid (the provider checks that first).
 */
import type { AccessToken, Client, ClientCredentials, KoaContextWithOIDC, RefreshToken } from 'oidc-provider';
import { RESOURCE_SERVER_FOR } from '../registration/client-metadata-policy.ts';

const asList = (value: string | string[] | undefined): string[] => (value === undefined ? [] : [value].flat());

export function createIntrospectionPolicy(resource: string) {
  return async function introspectionAllowedPolicy(_ctx: KoaContextWithOIDC, client: Client, token: AccessToken | ClientCredentials | RefreshToken): Promise<boolean> {
    if (token.clientId === client.clientId) return true;
    if (client.clientAuthMethod === 'none' || client.metadata()[RESOURCE_SERVER_FOR] !== resource) return false;
    const meantFor = 'aud' in token ? token.aud : 'resource' in token ? token.resource : undefined;
    return asList(meantFor).includes(resource);
  };
}
