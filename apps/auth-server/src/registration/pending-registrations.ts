/**
 * Registrations not yet used for a token (pending first use): Dynamic Client Registration clients
 * whose expiry expire-unused-clients.ts set and no token request has cleared yet. A server-wide
 * cap on them bounds what anonymous registration can store, whatever the number of client IPs.
 */
import type { Db } from '../../../shared/database.ts';

export class PendingRegistrations {
  readonly #count;
  readonly #nextExpiry;

  constructor(db: Db) {
    const pending = "FROM oidc_models WHERE model = 'Client' AND expires_at IS NOT NULL AND expires_at > ?";
    this.#count = db.prepare(`SELECT count(*) ${pending}`).pluck();
    this.#nextExpiry = db.prepare(`SELECT min(expires_at) ${pending}`).pluck();
  }

  /** 0 when another registration fits under `max`, else the seconds until the next pending one expires. */
  retryAfter(max: number, nowMs: number): number {
    const now = Math.floor(nowMs / 1000);
    if ((this.#count.get(now) as number) < max) return 0;
    const next = this.#nextExpiry.get(now) as number | null;
    return Math.max(1, (next ?? now + 60) - now);
  }
}
