/**
 * Claude registers a new client on every connect, so registrations that never obtain a token
 * must not pile up. A freshly registered client gets an expiry (`registration.unused_client_lifetime`);
 * its first successful token request clears it, and the sweeper deletes the ones that expire.
 *
 * Both changes are made by a provider middleware after the provider answered and before the
 * answer goes out, so a client that obtained tokens has lost its expiry by the time it holds them
 * (a `grant.success` listener's promise would be awaited by nobody). A crash right after a
 * registration leaves that one client without expiry: it stays, as any used client does.
 *
 * Once a client's expiry is cleared it is never set again (only a fresh registration gets one),
 * so this process remembers the clients it has kept and sends no statement for their later token
 * requests: a busy client would otherwise cost an UPDATE that changes nothing on every refresh.
 * Another replica's keeping is not known here; the first token request this process sees for a
 * client still clears it (a no-op when that replica already did).
 */
import type Provider from 'oidc-provider';
import type { Clock } from '../../../shared/clock.ts';

/** What this needs from the stored clients (provider/model-store.ts answers it). */
export interface ClientExpiries {
  expireClientAt(clientId: string, expiresAt: number): Promise<void>;
  keepClient(clientId: string): Promise<void>;
}

/** Kept clients this process remembers; beyond this it starts over. */
const MAX_REMEMBERED = 10_000;

export function expireUnusedClients(provider: Provider, clients: ClientExpiries, lifetimeSeconds: number, clock: Clock): void {
  const kept = new Set<string>();
  provider.use(async function expireUnusedClient(ctx, next) {
    await next();
    const route = ctx.oidc?.route;
    if (route === 'registration' && ctx.status === 201) {
      const clientId = (ctx.body as { client_id?: unknown } | undefined)?.client_id;
      if (typeof clientId === 'string') await clients.expireClientAt(clientId, clock.epochSeconds() + lifetimeSeconds);
    } else if (route === 'token' && ctx.status === 200) {
      const clientId = ctx.oidc?.client?.clientId;
      if (clientId && !kept.has(clientId)) {
        await clients.keepClient(clientId);
        if (kept.size >= MAX_REMEMBERED) kept.clear();
        kept.add(clientId);
      }
    }
  });
}
