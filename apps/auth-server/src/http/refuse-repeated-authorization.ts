/**
 * Refuses a request to /oauth/* that carries more than one Authorization header: 400
 * `invalid_request`, before the body is read or any client or token is looked up.
 *
 * - Node keeps the first Authorization header of a request and drops the others, and
 *   oidc-provider authenticates whatever Node kept: `Basic <client A>` then `Basic <client B>` at
 *   /oauth/introspect, /oauth/revoke or /oauth/token ran as client A, while a proxy, WAF or log in
 *   front that reads the last header saw client B (or junk). Authorization is not a list field
 *   (RFC 9110 §11.6.2), and a client must not authenticate in more than one way per request
 *   (RFC 6749 §2.3, answered `invalid_request` by §5.2; RFC 6750 §3.1 for bearer tokens).
 * - Whatever the headers hold: two copies of the same credentials are refused too.
 * - Every method and every /oauth/ path the provider routes (any ASCII case, one trailing slash).
 *
 * Deliberately not checked here: credentials in a header and in the body at once (the provider
 * refuses those itself: "client authentication must only be provided using one mechanism").
 */
import type { Context, Next } from 'koa';
import { countRawHeader } from '../../../shared/count-raw-header.ts';
import { routeOf } from './prepare-oauth-request.ts';

const MORE_THAN_ONE_HEADER = 'the request carries more than one Authorization header';

export async function refuseRepeatedAuthorization(ctx: Context, next: Next): Promise<void> {
  if (routeOf(ctx.path).startsWith('/oauth/') && countRawHeader(ctx.req.rawHeaders, 'authorization') > 1) {
    ctx.status = 400;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { error: 'invalid_request', error_description: MORE_THAN_ONE_HEADER };
    return;
  }
  await next();
}
