/**
 * Writes the provider's own events to the audit log:
 *
 * - `grant.success` at /token: `token.issued` (authorization code) or `token.refreshed`, with the
 *   user as actor and the grant, scope and resource; never a token or code.
 * - `token_exchange.success` (emitted by token-exchange-grant.ts): `token.exchanged`, with the
 *   user as actor, the exchanging resource server as client, and the upstream audience, the
 *   caller's client and the scope; the token exchange's own `grant.success` is not recorded twice.
 * - `grant.error` with "refresh token already used" / "authorization code already consumed":
 *   oidc-provider has just revoked the whole grant (refresh_token.js, grant_source.js), which
 *   signals a stolen or replayed credential: `refresh_token.reused` / `authorization_code.replayed`.
 * - `grant.revoked`: the provider revoked a grant (after such a reuse, or a client revoking its
 *   refresh token at /oauth/revoke). Revocations by admins and users are recorded where they happen.
 * - `registration_create.success` / `.error`: `client.registered` / `client.registration_refused`.
 */
import type { EventEmitter } from 'node:events';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { UserStore } from '../accounts/user-store.ts';
import type { TokenExchanged } from '../token-exchange/token-exchange-grant.ts';
import { TOKEN_EXCHANGE_GRANT_TYPE } from '../token-exchange/token-exchange-grant-type.ts';
import { ANONYMOUS, SYSTEM, type Actor, type AuditEntry, type AuditLog } from './audit-log.ts';

interface ProviderError extends Error {
  error?: string;
  error_description?: string;
  error_detail?: string;
}

const REUSE: Record<string, 'refresh_token.reused' | 'authorization_code.replayed'> = {
  'refresh token already used': 'refresh_token.reused',
  'authorization code already consumed': 'authorization_code.replayed',
};

export function recordProviderEvents(provider: Provider, audit: AuditLog, users: UserStore): void {
  const actorOf = async (accountId: unknown): Promise<Actor> => {
    if (typeof accountId !== 'string') return SYSTEM;
    const user = await users.findById(accountId);
    return { name: user?.username ?? accountId, id: accountId };
  };
  /**
   * Records `entry` with the user as actor. The provider emits its events synchronously and the
   * user is read from the database, so the row follows a moment later; a failure is reported as
   * the provider's server_error (logged), as a failed write of the listener itself would be.
   */
  const recordAsUser = (ctx: KoaContextWithOIDC, accountId: unknown, entry: Omit<AuditEntry, 'actor'>): void => {
    actorOf(accountId)
      .then((actor) => audit.record({ ...entry, actor }))
      .catch((err: unknown) => provider.emit('server_error', ctx, err));
  };

  provider.on('grant.success', function recordTokens(ctx: KoaContextWithOIDC) {
    const { oidc } = ctx;
    const grantType = String(oidc.params?.grant_type ?? '');
    if (grantType === TOKEN_EXCHANGE_GRANT_TYPE) return;
    const accessToken = oidc.entities.AccessToken;
    recordAsUser(ctx, oidc.entities.Grant?.accountId ?? accessToken?.accountId, {
      event: grantType === 'refresh_token' ? 'token.refreshed' : 'token.issued',
      ip: ctx.ip,
      clientId: oidc.client?.clientId,
      details: {
        grant_type: grantType,
        grant_id: oidc.entities.Grant?.jti,
        scope: accessToken?.scope,
        resource: accessToken?.aud,
        refresh_token_issued: Boolean(oidc.entities.RefreshToken) || undefined,
      },
    });
  });

  // Our own event: oidc-provider's typings list only its own names.
  (provider as unknown as EventEmitter).on('token_exchange.success', function recordExchange(ctx: KoaContextWithOIDC, exchanged: TokenExchanged) {
    recordAsUser(ctx, exchanged.accountId, {
      event: 'token.exchanged',
      ip: ctx.ip,
      clientId: ctx.oidc.client?.clientId,
      details: { audience: exchanged.audience, subject_client_id: exchanged.subjectClientId, scope: exchanged.scope },
    });
  });

  provider.on('grant.error', function recordReuse(ctx: KoaContextWithOIDC, err: ProviderError) {
    const event = err.error_detail ? REUSE[err.error_detail] : undefined;
    if (!event) return;
    const { oidc } = ctx;
    const source = oidc.entities.RefreshToken ?? oidc.entities.AuthorizationCode;
    recordAsUser(ctx, source?.accountId, {
      event,
      ip: ctx.ip,
      clientId: oidc.client?.clientId,
      details: { grant_id: source?.grantId, grant_revoked: true },
    });
  });

  provider.on('grant.revoked', function recordRevocation(ctx: KoaContextWithOIDC, grantId: string) {
    const route = ctx.oidc?.route;
    audit.record({
      event: 'grant.revoked',
      actor: SYSTEM,
      ip: ctx.ip,
      clientId: ctx.oidc?.client?.clientId,
      details: {
        grant_id: grantId,
        reason: route === 'token' ? 'a used refresh token or code was presented again' : route === 'revocation' ? 'the client revoked its token' : route,
      },
    });
  });

  provider.on('registration_create.success', function recordRegistration(ctx: KoaContextWithOIDC, client) {
    const metadata = client.metadata();
    audit.record({
      event: 'client.registered',
      actor: ANONYMOUS,
      ip: ctx.ip,
      clientId: client.clientId,
      details: {
        client_name: metadata.client_name,
        redirect_uris: metadata.redirect_uris,
        token_endpoint_auth_method: metadata.token_endpoint_auth_method,
        grant_types: metadata.grant_types,
      },
    });
  });

  provider.on('registration_create.error', function recordRefusedRegistration(ctx: KoaContextWithOIDC, err: ProviderError) {
    audit.record({
      event: 'client.registration_refused',
      actor: ANONYMOUS,
      ip: ctx.ip,
      details: { error: err.error ?? 'server_error', error_description: err.error_description },
    });
  });
}
