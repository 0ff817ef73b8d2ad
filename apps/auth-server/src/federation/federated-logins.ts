/**
 * Federated sign-ins in flight: what the callback needs to finish one (the interaction, the
 * upstream, the PKCE verifier, the nonce, a hash of the browser binding), under its `state`.
 *
 * - Single use across replicas: `take` is one `DELETE … RETURNING`, so of two callbacks with
 *   one `state` (on one replica or two), exactly one gets the row.
 * - `put` returns once the row is committed, so the browser is only sent to the upstream with a
 *   `state` that every replica can already find.
 */
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';

export interface PendingLogin {
  interactionUid: string;
  /** sha256 of the browser binding cookie (base64url): a copy of the database cannot be turned into the cookie. */
  browserBinding: string;
  upstreamId: string;
  codeVerifier: string;
  nonce: string;
}

interface Row {
  interaction_uid: string;
  browser_binding: string;
  upstream_id: string;
  code_verifier: string;
  nonce: string;
  expires_at: number;
}

export class FederatedLogins {
  constructor(private readonly db: SqlDatabase) {}

  /** `expiresAt`: epoch seconds. */
  async put(state: string, login: PendingLogin, expiresAt: number): Promise<void> {
    await this.db.run(`INSERT INTO federated_logins (state, interaction_uid, browser_binding, upstream_id, code_verifier, nonce, expires_at)
      VALUES (@state, @uid, @binding, @upstreamId, @verifier, @nonce, @expiresAt)`, {
      state, uid: login.interactionUid, binding: login.browserBinding, upstreamId: login.upstreamId, verifier: login.codeVerifier, nonce: login.nonce, expiresAt,
    });
  }

  /**
   * Removes and returns the sign-in under `state`, with the `expiresAt` it was put with; undefined
   * when unknown, expired or already taken.
   */
  async take(state: string, now: number): Promise<(PendingLogin & { expiresAt: number }) | undefined> {
    const row = await this.db.get<Row>(`DELETE FROM federated_logins WHERE state = ? AND expires_at > ?
      RETURNING interaction_uid, browser_binding, upstream_id, code_verifier, nonce, expires_at`, [state, now]);
    return row && {
      interactionUid: row.interaction_uid, browserBinding: row.browser_binding, upstreamId: row.upstream_id, codeVerifier: row.code_verifier, nonce: row.nonce,
      expiresAt: row.expires_at,
    };
  }

  /** Deletes the sign-ins that expired by `now` (epoch seconds). */
  async sweep(now: number): Promise<number> {
    return (await this.db.run('DELETE FROM federated_logins WHERE expires_at <= ?', [now])).changes;
  }
}
