/**
 * Claude registers a new client on every connect, so registrations that never obtain a token
 * must not pile up. A freshly registered client gets an expiry (`registration.unused_client_lifetime`);
 * its first token clears it, and the sweeper deletes the ones that expire (the admin's purge, every
 * one still pending at once).
 *
 * - The expiry is set by a provider middleware after the provider answered a registration and
 *   before the answer goes out. A crash right after a registration leaves that one client without
 *   expiry: it stays, as any used client does.
 * - It is cleared as the provider builds the client's access token (`keepClientGivenToken`, called
 *   from create-provider.ts `extraTokenClaims`): after every check of the grant passed, before any
 *   token of the request is stored or sent. Cleared after the provider answered, as it was, a purge
 *   or sweep in between deleted a client whose tokens were already stored and on their way out.
 *   Clearing the expiry and deleting the client (the purge only while pending, the sweep only once
 *   expired) each change the row only while it has an expiry, so of the two one finds nothing to
 *   do, on either backend: kept first, the client stays; deleted first, the token request is
 *   refused `401 invalid_client` (Claude registers again on it) and hands out nothing.
 * - A token request that fails its checks never gets there, so registrations whose requests all
 *   fail are still purged. One that fails after it (storing its refresh token: the database out of
 *   reach, or the same code redeemed at once elsewhere) leaves the client kept without a token; it
 *   took a valid code, so a sign-in and consent of its own.
 * - Only a registration can be pending: a static client (a row without expiry), a Client ID
 *   Metadata Document client or the internal client (no rows) is not asked about.
 *
 * Once a client's expiry is cleared it is never set again (only a fresh registration gets one),
 * so this process remembers the clients it has kept and sends no statement for their later
 * tokens: a busy client would otherwise cost a statement on every refresh. Another replica's
 * keeping is not known here; the first token this process builds for a client looks again (a
 * no-op when that replica already kept it).
 */
import { errors, type Client } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Clock } from '../../../shared/clock.ts';
import { CLIENT_KIND } from './client-metadata-policy.ts';

/** What this needs from the stored clients (provider/model-store.ts answers it). */
export interface ClientExpiries {
  expireClientAt(clientId: string, expiresAt: number): Promise<void>;
  /** Clears the client's expiry; false when no such client is stored. */
  keepClient(clientId: string): Promise<boolean>;
}

/** Kept clients this process remembers; beyond this it starts over. */
const MAX_REMEMBERED = 10_000;

/** Gives each client the provider registers its expiry. */
export function expireUnusedClients(provider: Provider, clients: Pick<ClientExpiries, 'expireClientAt'>, lifetimeSeconds: number, clock: Clock): void {
  provider.use(async function expireUnusedClient(ctx, next) {
    await next();
    if (ctx.oidc?.route !== 'registration' || ctx.status !== 201) return;
    const clientId = (ctx.body as { client_id?: unknown } | undefined)?.client_id;
    if (typeof clientId === 'string') await clients.expireClientAt(clientId, clock.epochSeconds() + lifetimeSeconds);
  });
}

/**
 * The step the provider takes for each access token it builds (see the header): the client stays,
 * or the token request fails with `invalid_client` when the client was deleted meanwhile.
 */
export function keepClientsGivenTokens(clients: Pick<ClientExpiries, 'keepClient'>): (client: Client) => Promise<void> {
  const kept = new Set<string>();
  return async function keepClientGivenToken(client) {
    const kind = client.metadata()[CLIENT_KIND];
    // A registration stored before registrations were marked has no kind (client-usage.ts too).
    if ((kind !== undefined && kind !== 'dcr') || kept.has(client.clientId)) return;
    // As the provider answers a client it cannot find (401 invalid_client, RFC 6749 §5.2).
    if (!await clients.keepClient(client.clientId)) throw new errors.InvalidClientAuth('the client was deleted while its token was being issued');
    if (kept.size >= MAX_REMEMBERED) kept.clear();
    kept.add(client.clientId);
  };
}
