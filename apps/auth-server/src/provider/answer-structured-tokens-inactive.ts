/**
 * RFC 7662 §2.2: introspecting a token the server does not know answers `{"active": false}`.
 *
 * oidc-provider refuses any JWT at `/oauth/introspect` with 400 `unsupported_token_type` (it
 * stores no JWT access tokens, so it cannot say whether one was revoked). Strict clients treat
 * that 400 as a failed call instead of an inactive token, so the introspection answer is turned
 * into 200 `{"active": false}`. The provider raises that error only after the caller has
 * authenticated, so a failed client authentication still gets its 401 `invalid_client`.
 *
 * Deliberately not changed: `/oauth/revoke`, where RFC 7009 §2.2.1 defines
 * `unsupported_token_type` for exactly this case.
 */
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Next } from 'koa';

export async function answerStructuredTokensInactive(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
  await next();
  const body = ctx.body as { error?: unknown } | undefined;
  if (ctx.oidc?.route === 'introspection' && ctx.status === 400 && body?.error === 'unsupported_token_type') {
    ctx.status = 200;
    ctx.body = { active: false };
  }
}
