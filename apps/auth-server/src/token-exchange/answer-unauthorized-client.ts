/**
 * RFC 6749 §5.2: a client that authenticated but may not use a grant type gets
 * `unauthorized_client`. oidc-provider answers `invalid_request` ("requested grant type is not
 * allowed for this client") before any grant handler runs; for the token exchange grant, where
 * that is the answer every client but the resource server gets, it is turned into
 * `unauthorized_client`. The provider raises it only after client authentication, so a failed or
 * missing authentication still gets its 401 `invalid_client`.
 *
 * Deliberately left alone: the same answer for the provider's own grants (existing clients rely on it).
 */
import type { Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { TOKEN_EXCHANGE_GRANT_TYPE } from './token-exchange-grant-type.ts';

const NOT_ALLOWED = 'requested grant type is not allowed for this client';

export async function answerUnauthorizedClient(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
  await next();
  const body = ctx.body as { error?: unknown; error_description?: unknown } | undefined;
  if (
    ctx.oidc?.route === 'token'
    && ctx.oidc.params?.grant_type === TOKEN_EXCHANGE_GRANT_TYPE
    && ctx.status === 400
    && body?.error === 'invalid_request'
    && body.error_description === NOT_ALLOWED
  ) {
    ctx.body = { error: 'unauthorized_client', error_description: 'only the resource server registered for this resource may exchange tokens' };
  }
}
