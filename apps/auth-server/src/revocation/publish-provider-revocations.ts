/**
 * Puts the grants oidc-provider revokes by itself on the revocation feed: a refresh token or an
 * authorization code presented again (reuse detection), or a client revoking its refresh token
 * at /oauth/revoke.
 *
 * - The provider announces them with a synchronous event (`grant.revoked`) in the middle of the
 *   request. The entry is written then, and the request's answer waits for it: a client told "the
 *   grant is gone" (or an attacker told `invalid_grant`) gets that answer only once every replica's
 *   feed lists the grant. A write that fails turns the answer into a 500 (the provider already
 *   deleted the grant; the feed entry is what keeps its access tokens from working).
 * - Deliberately not here: revocations by admins and users, which management code records in the
 *   transaction of the change.
 */
import type { Next } from 'koa';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { RevocationFeed } from './revocation-feed.ts';

const PENDING = Symbol('gatehouse.pendingRevocations');

type WithPending = KoaContextWithOIDC & { [PENDING]?: Promise<void>[] };

export function publishProviderRevocations(provider: Provider, feed: Pick<RevocationFeed, 'revokeGrant'>): void {
  provider.on('grant.revoked', function publishRevokedGrant(ctx: WithPending, grantId: string) {
    const written = feed.revokeGrant(grantId);
    // Handled by the middleware below; this keeps a rejection from counting as unhandled meanwhile.
    written.catch(() => {});
    (ctx[PENDING] ??= []).push(written);
  });

  provider.use(async function awaitRevocationEntries(ctx: WithPending, next: Next): Promise<void> {
    try {
      await next();
    } finally {
      // Koa writes the response only after this middleware returns.
      const pending = ctx[PENDING];
      if (pending) await Promise.all(pending);
    }
  });
}
