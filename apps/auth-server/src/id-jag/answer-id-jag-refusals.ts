/**
 * The provider's own refusal of the jwt-bearer grant, in the words of the ID-JAG profile:
 *
 * - A client that authenticated but lacks the grant in its `grant_types` gets `invalid_request`
 *   ("requested grant type is not allowed for this client") from the provider before any grant
 *   handler runs. RFC 6749 §5.2 calls that `unauthorized_client`; while no IdP is trusted at all
 *   the grant is not offered, so it is `unsupported_grant_type` (what the handler answers too).
 * - The provider raises it only after client authentication, so a failed or missing
 *   authentication keeps its 401 `invalid_client`.
 *
 * Same shape as token-exchange/answer-unauthorized-client.ts, for the other grant.
 */
import type { Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { JWT_BEARER_GRANT_TYPE } from './id-jag-grant-type.ts';

const NOT_ALLOWED = 'requested grant type is not allowed for this client';

export function answerIdJagRefusals(isOffered: () => Promise<boolean>) {
  return async function answerIdJagUnauthorizedClient(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    await next();
    const body = ctx.body as { error?: unknown; error_description?: unknown } | undefined;
    if (
      ctx.oidc?.route === 'token'
      && ctx.oidc.params?.grant_type === JWT_BEARER_GRANT_TYPE
      && ctx.status === 400
      && body?.error === 'invalid_request'
      && body.error_description === NOT_ALLOWED
    ) {
      ctx.body = await isOffered()
        ? { error: 'unauthorized_client', error_description: 'this client is not registered for the jwt-bearer grant (identity assertions)' }
        : { error: 'unsupported_grant_type', error_description: 'unsupported grant_type requested' };
    }
  };
}
