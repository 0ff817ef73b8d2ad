/**
 * RFC 6749 §5.2: a client that authenticated but may not use a grant type gets
 * `unauthorized_client`. oidc-provider answers `invalid_request` ("requested grant type is not
 * allowed for this client") before any grant handler runs; for the token exchange grant, where
 * that is the answer every client but the resource server gets, it is turned into
 * `unauthorized_client`. The same for the client credentials grant, which only service accounts
 * may use (registration/service-account-policy.ts): a DCR, CIMD, public or disabled client asking
 * for it is an authenticated client not allowed this grant. The provider raises it only after
 * client authentication, so a failed or missing authentication still gets its 401 `invalid_client`.
 *
 * Deliberately left alone: the same answer for the provider's own grants (existing clients rely on it).
 */
import type { Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { CLIENT_CREDENTIALS, SERVICE_ACCOUNT, SERVICE_DISABLED } from '../registration/service-account-policy.ts';
import { TOKEN_EXCHANGE_GRANT_TYPE } from './token-exchange-grant-type.ts';

const NOT_ALLOWED = 'requested grant type is not allowed for this client';

function whyNot(ctx: KoaContextWithOIDC, grantType: unknown): string | undefined {
  if (grantType === TOKEN_EXCHANGE_GRANT_TYPE) return 'only the resource server registered for this resource may exchange tokens';
  if (grantType !== CLIENT_CREDENTIALS) return undefined;
  const metadata = ctx.oidc.client?.metadata();
  if (metadata?.[SERVICE_ACCOUNT] === true && metadata[SERVICE_DISABLED] === true) return 'this service account is disabled';
  return 'only service accounts created by an administrator may use the client_credentials grant';
}

/** The answer a refusal at the token endpoint gets instead of the provider's, or undefined when it keeps its own. */
export function unauthorizedClientAnswer(ctx: KoaContextWithOIDC, refusal: { error?: unknown; error_description?: unknown }): { error: 'unauthorized_client'; error_description: string } | undefined {
  if (refusal.error !== 'invalid_request' || refusal.error_description !== NOT_ALLOWED) return undefined;
  const description = whyNot(ctx, ctx.oidc.params?.grant_type);
  return description ? { error: 'unauthorized_client', error_description: description } : undefined;
}

export async function answerUnauthorizedClient(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
  await next();
  const body = ctx.body as { error?: unknown; error_description?: unknown } | undefined;
  if (ctx.oidc?.route !== 'token' || ctx.status !== 400 || !body) return;
  const answer = unauthorizedClientAnswer(ctx, body);
  if (answer) ctx.body = answer;
}
