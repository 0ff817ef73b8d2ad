/**
 * `GET /oauth/revocations?after=<seq>&limit=<n>`: the revocation feed (apps/shared/revocation-entry.ts)
 * as JSON, for the resource server to follow.
 *
 * - Public, like a certificate revocation list: it names no user, client or grant (values are
 *   hashes) and refuses nothing by itself; a verifier that cannot read it fails closed.
 * - `Cache-Control: no-store`: a cached page would hide a revocation.
 * - A bad `after` or `limit` is a 400 `invalid_request`, never a 5xx.
 */
import type { Context, Next } from 'koa';
import { MAX_PAGE, type RevocationFeed } from './revocation-feed.ts';

export const REVOCATION_FEED_PATH = '/oauth/revocations';

const COUNT = /^(0|[1-9][0-9]{0,14})$/;

export function revocationFeedRoute(feed: RevocationFeed) {
  return async function serveRevocationFeed(ctx: Context, next: Next): Promise<void> {
    if (ctx.path !== REVOCATION_FEED_PATH) return next();
    ctx.set('Cache-Control', 'no-store');
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405;
      ctx.set('Allow', 'GET, HEAD');
      ctx.body = { error: 'invalid_request', error_description: 'the revocation feed is read with GET' };
      return;
    }
    const after = ctx.query.after ?? '0';
    const limit = ctx.query.limit ?? String(MAX_PAGE);
    if (typeof after !== 'string' || !COUNT.test(after) || typeof limit !== 'string' || !COUNT.test(limit) || Number(limit) < 1) {
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: 'after and limit must be whole numbers (limit at least 1)' };
      return;
    }
    ctx.body = await feed.page(Number(after), Number(limit));
  };
}
