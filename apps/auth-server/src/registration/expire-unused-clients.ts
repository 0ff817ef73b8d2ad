/**
 * Claude registers a new client on every connect, so registrations that never obtain a token
 * must not pile up. A freshly registered client gets an expiry (`registration.unused_client_lifetime`);
 * its first successful token request clears it, and the sweeper deletes the ones that expire.
 */
import type Provider from 'oidc-provider';
import type { Clock } from '../../../shared/clock.ts';
import type { Db } from '../../../shared/database.ts';

export function expireUnusedClients(provider: Provider, db: Db, lifetimeSeconds: number, clock: Clock): void {
  const setExpiry = db.prepare("UPDATE oidc_models SET expires_at = ? WHERE model = 'Client' AND id = ?");
  const clearExpiry = db.prepare("UPDATE oidc_models SET expires_at = NULL WHERE model = 'Client' AND id = ? AND expires_at IS NOT NULL");

  provider.on('registration_create.success', (_ctx, client) => {
    setExpiry.run(clock.epochSeconds() + lifetimeSeconds, client.clientId);
  });
  provider.on('grant.success', (ctx) => {
    const clientId = ctx.oidc.client?.clientId;
    if (clientId) clearExpiry.run(clientId);
  });
}
