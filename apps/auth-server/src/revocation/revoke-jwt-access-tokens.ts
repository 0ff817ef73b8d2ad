/**
 * RFC 7009 §2: a client revokes one of its own JWT access tokens at `/oauth/revoke`.
 *
 * oidc-provider stores no JWT access tokens, so it answers them there with 400
 * `unsupported_token_type` (RFC 7009 §2.2.1). Gatehouse can do better: its resource servers follow
 * the revocation feed, so the token's `jti` goes on the feed and the MCP server refuses that one
 * token within seconds. The grant and its refresh token stay, as the provider keeps them when an
 * opaque access token is revoked (its default `revokeGrantPolicy`). Past a few of one account's
 * tokens at once, the feed refuses the grant's tokens issued up to this one's instead, and past
 * many grants so cut off, this client's tokens of the account (`revokeToken`).
 *
 * - Runs after the provider authenticated the client: it raises that error only then, so a failed
 *   client authentication still gets its 401.
 * - The token must verify with this server's own published keys, name this issuer, be an
 *   `at+jwt` and not have expired (an expired token needs nothing), and belong to the caller.
 * - Another client's token: a confidential client is told so (400 `invalid_request`, as the
 *   provider's revocation policy does for stored tokens); a public one gets the ordinary 200.
 * - Anything else (another issuer's, forged, malformed): 200, as RFC 7009 §2.2 says for an
 *   invalid token.
 */
import type { Next } from 'koa';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { RevocationFeed } from './revocation-feed.ts';

export interface RevokeJwtAccessTokensOptions {
  issuer: string;
  /** This server's public signing keys, as /oauth/jwks publishes them. */
  jwks: JSONWebKeySet;
  feed: RevocationFeed;
}

export function revokeJwtAccessTokens({ issuer, jwks, feed }: RevokeJwtAccessTokensOptions) {
  const keys = createLocalJWKSet(jwks);

  async function ownAccessToken(token: unknown): Promise<JWTPayload | undefined> {
    try {
      const { payload } = await jwtVerify(String(token), keys, { issuer, typ: 'at+jwt', algorithms: ['RS256'] });
      return typeof payload.jti === 'string' && typeof payload.client_id === 'string' ? payload : undefined;
    } catch {
      return undefined;
    }
  }

  return async function revokeJwtAccessTokensMiddleware(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    await next();
    const body = ctx.body as { error?: unknown } | undefined;
    const client = ctx.oidc?.client;
    if (ctx.oidc?.route !== 'revocation' || ctx.status !== 400 || body?.error !== 'unsupported_token_type' || !client) return;
    const payload = await ownAccessToken(ctx.oidc.params?.token);
    if (payload && payload.client_id !== client.clientId && client.clientAuthMethod !== 'none') {
      ctx.body = { error: 'invalid_request', error_description: 'client is not authorized to revoke the presented token' };
      return;
    }
    // Committed before the 200 goes out: the client is told the token is revoked only once it is.
    if (payload && payload.client_id === client.clientId) {
      const { jti, sub, iat, gid } = payload;
      const grantId = typeof gid === 'string' ? gid : undefined;
      await feed.revokeToken(jti!, typeof sub === 'string' && typeof iat === 'number' ? { sub, iat, clientId: client.clientId, grantId } : undefined);
    }
    ctx.status = 200;
    ctx.body = '';
  };
}
