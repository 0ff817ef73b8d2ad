/**
 * What an `invalid_scope` answer at /oauth/token quotes of the scopes it refuses (its `scope`
 * member: the provider's refresh grant, and our client credentials, ID-JAG and token exchange
 * grants): at most MAX_ECHOED_SCOPE characters, then `…`, the bound every refusal quoting a
 * request keeps. A scope token may be any length (RFC 6749 §3.3), and the answer carried a
 * 15,000-character request back whole, to the client and to whatever logs its answers.
 *
 * - Done on the answer the provider's error handler has just written (the `grant.error` event
 *   comes after it, before the response is sent), since the refresh grant's refusal is the
 *   provider's own. The error itself keeps the whole scope for our listeners (the connection
 *   log cuts what it quotes).
 * - Not needed at /oauth/authorize: there the provider ignores scopes it does not know and names
 *   at most one it does, from the configured list.
 */
import type Provider from 'oidc-provider';
import { cutText } from '../../../shared/cut-text.ts';

export const MAX_ECHOED_SCOPE = 200;

export function cutEchoedScope(provider: Provider): void {
  provider.on('grant.error', (ctx) => {
    const body = ctx.body as { error?: unknown; scope?: unknown } | undefined;
    if (body?.error === 'invalid_scope' && typeof body.scope === 'string') body.scope = cutText(body.scope, MAX_ECHOED_SCOPE, '…');
  });
}
