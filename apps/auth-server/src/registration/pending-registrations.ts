/**
 * Registrations not yet used for a token (pending first use): Dynamic Client Registration clients
 * whose expiry expire-unused-clients.ts set and no token request has cleared yet. A server-wide
 * cap on them bounds what anonymous registration can store, whatever the number of client IPs.
 *
 * Counted in the shared database on every registration, so replicas share the cap. The count is
 * read before the registration is saved, so the registrations in flight at one instant, on one
 * replica or several, all pass the same count: the cap can be passed by as many (bounded by the
 * per-IP registration limit times the IPs sending at once; no lock is worth that).
 */

/** What the count needs from the stored clients (provider/model-store.ts answers it). */
export interface PendingClientCounts {
  pendingClients(nowSeconds: number): Promise<{ count: number; nextExpiry: number | null }>;
}

export class PendingRegistrations {
  constructor(private readonly clients: PendingClientCounts) {}

  /** 0 when another registration fits under `max`, else the seconds until the next pending one expires. */
  async retryAfter(max: number, nowMs: number): Promise<number> {
    const now = Math.floor(nowMs / 1000);
    const { count, nextExpiry } = await this.clients.pendingClients(now);
    if (count < max) return 0;
    return Math.max(1, (nextExpiry ?? now + 60) - now);
  }
}
