/**
 * Writes the provider's own events to the audit log:
 *
 * - `grant.success` at /token: `token.issued` (authorization code) or `token.refreshed`, with the
 *   user as actor and the grant, scope and resource (on a refresh only when they differ from the
 *   grant's), and `refresh_token_issued: false` when no refresh token came with it; never a token
 *   or code.
 *   A client credentials token (a service account, no user) is `token.issued` with actor `service`,
 *   the service account as client, and its scope and resource.
 * - `token_exchange.success` (emitted by token-exchange-grant.ts): `token.exchanged`, with the
 *   user as actor, the exchanging resource server as client, and the upstream audience, the
 *   caller's client and the scope; the token exchange's own `grant.success` is not recorded twice.
 * - `grant.error` for the token exchange grant: `token.exchange_refused`, with the client when it
 *   authenticated, the RFC error code and description the client was answered, and the
 *   `resource` it asked for; never the subject token. One row per refused request, as
 *   `id_jag.refused`: the per-address `token` rate limit stops a flood before the provider
 *   (http/limit-requests.ts), and each row is cut to the audit log's string and list sizes.
 * - `grant.error` with "refresh token already used" / "authorization code already consumed":
 *   oidc-provider has just revoked the whole grant (refresh_token.js, grant_source.js), which
 *   signals a stolen or replayed credential: `refresh_token.reused` / `authorization_code.replayed`.
 * - `grant.revoked`: the provider revoked a grant (after such a reuse, or a client revoking its
 *   refresh token at /oauth/revoke). Revocations by admins and users are recorded where they happen.
 * - `registration_create.success` / `.error`: `client.registered` / `client.registration_refused`.
 *
 * The provider's events are synchronous and the write is not: each event is queued for the
 * audit log's next batch (audit-log.ts), a failure is logged, and the response does not wait
 * for the write (an audit row hands nothing out; the revocation feed entry a `grant.revoked`
 * needs has already committed with the grant's deletion, provider/database-adapter.ts). It waits only while the queue is
 * full: back-pressure, so events are never dropped. The actor is looked up once per request
 * (find-user-once.ts): the token's claims already read that user.
 */
import type { EventEmitter } from 'node:events';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../../../shared/logger.ts';
import { findUserOnce } from '../accounts/find-user-once.ts';
import type { UserStore } from '../accounts/user-store.ts';
import type { TokenExchanged } from '../token-exchange/token-exchange-grant.ts';
import { JWT_BEARER_GRANT_TYPE } from '../id-jag/id-jag-grant-type.ts';
import { TOKEN_EXCHANGE_GRANT_TYPE } from '../token-exchange/token-exchange-grant-type.ts';
import { unauthorizedClientAnswer } from '../token-exchange/answer-unauthorized-client.ts';
import { CODE_REPLAYED_DETAIL, REFRESH_TOKEN_REUSED_DETAIL, type ProviderError } from '../provider/provider-error.ts';
import { authenticatedClientId } from './authenticated-client-id.ts';
import { ANONYMOUS, SERVICE, SYSTEM, type Actor, type AuditEntry, type AuditLog } from './audit-log.ts';

const REUSE: Record<string, 'refresh_token.reused' | 'authorization_code.replayed'> = {
  [REFRESH_TOKEN_REUSED_DETAIL]: 'refresh_token.reused',
  [CODE_REPLAYED_DETAIL]: 'authorization_code.replayed',
};

export function recordProviderEvents(provider: Provider, audit: AuditLog, users: Pick<UserStore, 'findById'>, logger: Pick<Logger, 'error'>): void {
  const failed = (err: unknown, { event }: { event: string }) => logger.error({ err, event }, 'writing a provider event to the audit log failed');
  const queue = (entry: Omit<AuditEntry, 'actor'> & { actor?: Actor }, actor: Actor) => {
    try {
      entry.actor = actor;
      audit.push(entry as AuditEntry, failed);
    } catch (err) {
      failed(err, entry);
    }
  };
  /**
   * Queues `entry` with its actor: at once when it is known, else once the user is (looked up
   * once per request: the grant has already read that user). A failure is logged, never thrown
   * into the provider. No promise for the write, and no function made per event but the
   * lookup's callback.
   */
  const write = (ctx: KoaContextWithOIDC, accountId: unknown, entry: Omit<AuditEntry, 'actor'> & { actor?: Actor }): void => {
    if (entry.actor) queue(entry, entry.actor);
    else if (typeof accountId !== 'string') queue(entry, SYSTEM);
    else findUserOnce(users, ctx, accountId).then((user) => queue(entry, { name: user?.username ?? accountId, id: accountId }), (err: unknown) => failed(err, entry));
  };

  provider.use(async function waitForAuditRoom(_ctx, next) {
    await next();
    await audit.room();
  });

  provider.on('grant.success', function recordTokens(ctx: KoaContextWithOIDC) {
    const { oidc } = ctx;
    const grantType = String(oidc.params?.grant_type ?? '');
    // Each records its own event (token.exchanged, id_jag.accepted: record-id-jag-exchanges.ts).
    if (grantType === TOKEN_EXCHANGE_GRANT_TYPE || grantType === JWT_BEARER_GRANT_TYPE) return;
    const service = oidc.entities.ClientCredentials;
    const accessToken = oidc.entities.AccessToken ?? service;
    const grant = oidc.entities.Grant;
    const refreshed = grantType === 'refresh_token';
    const resource = typeof accessToken?.aud === 'string' ? accessToken.aud : undefined;
    // A refresh is recorded as what differs from its grant: the grant's token.issued event
    // (same grant_id) holds its scope and resource. About 120 bytes less on disk per refresh
    // (bench/disk-per-grant.ts).
    const sameAsGrant = refreshed && resource !== undefined && grant?.resources !== undefined
      && Object.keys(grant.resources).length === 1 && grant.getResourceScope(resource) === accessToken?.scope;
    write(ctx, grant?.accountId ?? oidc.entities.AccessToken?.accountId, {
      ...(service ? { actor: SERVICE } : {}),
      event: refreshed ? 'token.refreshed' : 'token.issued',
      ip: ctx.ip,
      clientId: oidc.client?.clientId,
      details: {
        // A code exchange, the usual case, goes without its grant type: audit-log.ts puts it
        // back on every token.issued with a grant (36 bytes less per grant on disk).
        grant_type: refreshed || grantType === 'authorization_code' ? undefined : grantType,
        grant_id: grant?.jti,
        scope: sameAsGrant ? undefined : accessToken?.scope,
        resource: sameAsGrant ? undefined : accessToken?.aud,
        // Almost every grant gets one (rotation is on): recorded when it did not.
        refresh_token_issued: oidc.entities.RefreshToken ? undefined : false,
      },
    });
  });

  // Our own event: oidc-provider's typings list only its own names.
  (provider as unknown as EventEmitter).on('token_exchange.success', function recordExchange(ctx: KoaContextWithOIDC, exchanged: TokenExchanged) {
    write(ctx, exchanged.accountId, {
      event: 'token.exchanged',
      ip: ctx.ip,
      clientId: ctx.oidc.client?.clientId,
      details: { audience: exchanged.audience, subject_client_id: exchanged.subjectClientId, scope: exchanged.scope },
    });
  });

  provider.on('grant.error', function recordRefusedExchange(ctx: KoaContextWithOIDC, err: ProviderError) {
    const { oidc } = ctx;
    if (oidc?.params?.grant_type !== TOKEN_EXCHANGE_GRANT_TYPE) return;
    const answer = unauthorizedClientAnswer(ctx, err) ?? err;
    const resource = oidc.params.resource as string | string[] | undefined;
    write(ctx, undefined, {
      event: 'token.exchange_refused',
      actor: ANONYMOUS,
      ip: ctx.ip,
      clientId: authenticatedClientId(ctx, err),
      details: {
        error: answer.error ?? 'server_error',
        error_description: answer.error_description,
        // Several (refused: RFC 8707 §2, one only) as one string, cut to the audit log's length.
        resource: resource === undefined ? undefined : [resource].flat().join(' '),
      },
    });
  });

  provider.on('grant.error', function recordReuse(ctx: KoaContextWithOIDC, err: ProviderError) {
    const event = err.error_detail ? REUSE[err.error_detail] : undefined;
    if (!event) return;
    const { oidc } = ctx;
    const source = oidc.entities.RefreshToken ?? oidc.entities.AuthorizationCode;
    write(ctx, source?.accountId, {
      event,
      ip: ctx.ip,
      clientId: oidc.client?.clientId,
      details: { grant_id: source?.grantId, grant_revoked: true },
    });
  });

  provider.on('grant.revoked', function recordRevocation(ctx: KoaContextWithOIDC, grantId: string) {
    const route = ctx.oidc?.route;
    write(ctx, undefined, {
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
    write(ctx, undefined, {
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
    write(ctx, undefined, {
      event: 'client.registration_refused',
      actor: ANONYMOUS,
      ip: ctx.ip,
      details: { error: err.error ?? 'server_error', error_description: err.error_description },
    });
  });
}
