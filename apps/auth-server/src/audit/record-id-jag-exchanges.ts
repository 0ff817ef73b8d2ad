/**
 * Writes each ID-JAG exchange at the jwt-bearer grant (id-jag/id-jag-grant.ts) to the audit log:
 *
 * - `id_jag.accepted` (our `id_jag.accepted` event): the user as actor, the client, and the IdP,
 *   the granted scope, the grant id and whether the user was created by this exchange.
 * - `id_jag.refused` (the provider's `grant.error` for that grant type, which also covers failed
 *   client authentication): the client if it authenticated, the RFC error code and its
 *   description as the reason, and the IdP and subject when the assertion had verified
 *   (an unverified assertion's claims are not recorded: anyone can write them). A user the
 *   exchange created before it was refused (a new user waiting for approval) is the actor, with
 *   `user_created`: otherwise nothing would name them until an administrator approves them.
 *
 * Never the assertion itself (MCP enterprise-managed authorization §7.4.2: never log ID-JAGs).
 * Queued like the provider's other events (record-provider-events.ts).
 */
import type { EventEmitter } from 'node:events';
import type Provider from 'oidc-provider';
import type { errors, KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../../../shared/logger.ts';
import { JWT_BEARER_GRANT_TYPE } from '../id-jag/id-jag-grant-type.ts';
import { ID_JAG_REFUSAL_CONTEXT, type IdJagAccepted, type IdJagRefusalContext } from '../id-jag/id-jag-grant.ts';
import { authenticatedClientId } from './authenticated-client-id.ts';
import { ANONYMOUS, type AuditEntry, type AuditLog } from './audit-log.ts';

type ProviderError = InstanceType<typeof errors.OIDCProviderError>;

export function recordIdJagExchanges(provider: Provider, audit: Pick<AuditLog, 'enqueue'>, logger: Pick<Logger, 'error'>): void {
  const write = (entry: AuditEntry): void => {
    audit.enqueue(entry).catch((err: unknown) => logger.error({ err, event: entry.event }, 'writing an ID-JAG exchange to the audit log failed'));
  };

  // Our own event: oidc-provider's typings list only its own names.
  (provider as unknown as EventEmitter).on('id_jag.accepted', function recordAccepted(ctx: KoaContextWithOIDC, accepted: IdJagAccepted) {
    write({
      event: 'id_jag.accepted',
      actor: { name: accepted.username, id: accepted.accountId },
      ip: ctx.ip,
      clientId: ctx.oidc.client?.clientId,
      details: { idp: accepted.idp, scope: accepted.scope, grant_id: ctx.oidc.entities.Grant?.jti, user_created: accepted.createdUser || undefined },
    });
  });

  provider.on('grant.error', function recordRefused(ctx: KoaContextWithOIDC, err: ProviderError) {
    if (ctx.oidc?.params?.grant_type !== JWT_BEARER_GRANT_TYPE) return;
    const known = (err as ProviderError & { [ID_JAG_REFUSAL_CONTEXT]?: IdJagRefusalContext })[ID_JAG_REFUSAL_CONTEXT];
    const created = known?.createdUser;
    write({
      event: 'id_jag.refused',
      actor: created ? { name: created.username, id: created.id } : ANONYMOUS,
      ip: ctx.ip,
      clientId: authenticatedClientId(ctx, err),
      details: { error: err.error ?? 'server_error', reason: err.error_description, idp: known?.idp, subject: known?.sub, user_created: created ? true : undefined },
    });
  });
}
