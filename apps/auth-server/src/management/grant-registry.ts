/**
 * The grants users gave to clients ("connected apps"), read from the provider's Grant rows.
 *
 * Revoking a grant deletes it and every row that carries its id (refresh tokens, codes), as the
 * adapter's `revokeByGrantId` does, so the client's next refresh fails at once. JWT access tokens
 * are not stored, so the revocation also goes on the revocation feed, which the resource server
 * follows to refuse the grant's access tokens within seconds.
 * Grants of the internal client (the admin pages' own sign-in) are not listed.
 */
import type { SqlDatabase, SqlExecutor } from '../../../shared/storage/sql-database.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RevocationFeed } from '../revocation/revocation-feed.ts';
import type { ChangedBy } from './admin-actor.ts';
import { INTERNAL_CLIENT_ID } from '../provider/internal-client.ts';
import type { ModelStore, StoredGrant } from '../provider/model-store.ts';

export type GrantSummary = StoredGrant;

export interface GrantFilter {
  accountId?: string;
  clientId?: string;
}

export class GrantRegistry {
  readonly #db: SqlDatabase;
  readonly #models: ModelStore;
  readonly #audit: AuditLog;
  readonly #revocations: RevocationFeed;

  constructor(db: SqlDatabase, models: ModelStore, audit: AuditLog, revocations: RevocationFeed) {
    this.#db = db;
    this.#models = models;
    this.#audit = audit;
    this.#revocations = revocations;
  }

  list(filter: GrantFilter = {}, tx?: SqlExecutor): Promise<GrantSummary[]> {
    return this.#models.grants({ ...filter, exceptClientId: INTERNAL_CLIENT_ID }, tx);
  }

  find(grantId: string, tx?: SqlExecutor): Promise<GrantSummary | undefined> {
    return this.#models.grant(grantId, tx);
  }

  /**
   * Revokes one grant; false when there was none with this id. The rows, the feed entry and the
   * audit record commit in one transaction: a grant is never announced as revoked while its
   * refresh tokens still work, and never deleted without its entry, which alone stops its access
   * tokens at the resource server: rows deleted on their own, with the entry failing after them (a
   * lost connection, a full disk), would leave nothing for a second attempt to revoke, and the
   * grant's access tokens valid for their whole lifetime. In the caller's transaction when it
   * passes one (`tx`): then the revocation commits, or rolls back, with the caller's change.
   */
  async revoke(grantId: string, by: ChangedBy, reason: string, tx?: SqlExecutor): Promise<boolean> {
    return await this.revokeMany([grantId], by, reason, tx) === 1;
  }

  /**
   * Revokes `grantIds` as `revoke` does each, all in one transaction (the caller's `tx` when
   * given); how many there were. Every grant's rows are deleted before the first feed entry: on
   * PostgreSQL an entry takes the feed's lock until the commit, and a grant ended meanwhile
   * elsewhere (a replay caught, /oauth/revoke, "My apps") holds its rows while it waits for that
   * lock. Rows deleted one grant at a time, each after the previous grant's entry, waited for those
   * crosswise: a deadlock, which PostgreSQL ends by failing one side.
   */
  async revokeMany(grantIds: readonly string[], by: ChangedBy, reason: string, tx?: SqlExecutor): Promise<number> {
    // Nothing to revoke takes no write lock: a SQLite transaction begins with BEGIN IMMEDIATE,
    // which waits for every other writer.
    if (grantIds.length === 0) return 0;
    const revoke = async (tx: SqlExecutor): Promise<number> => {
      const ids = [...new Set(grantIds)].sort();
      const found = new Map<string, GrantSummary | undefined>();
      for (const id of ids) found.set(id, await this.find(id, tx));
      const removed: string[] = [];
      for (const id of ids) if (await this.#models.deleteGrant(id, tx)) removed.push(id);
      let revoked = 0;
      for (const id of removed) {
        await this.#revocations.revokeGrant(id, tx);
        const grant = found.get(id);
        if (!grant) continue;
        await this.#audit.record({
          event: 'grant.revoked', actor: by.actor, ip: by.ip, clientId: grant.clientId,
          details: { grant_id: id, account_id: grant.accountId, reason },
        }, tx);
        revoked += 1;
      }
      return revoked;
    };
    return tx ? revoke(tx) : this.#db.transaction(revoke);
  }

  /** Revokes every grant of a user or of a client (internal-client grants included); returns how many. */
  async revokeAll(filter: GrantFilter, by: ChangedBy, reason: string): Promise<number> {
    if (!filter.accountId && !filter.clientId) throw new TypeError('revokeAll needs an accountId or a clientId');
    let revoked = 0;
    for (const id of await this.#models.grantIds(filter)) if (await this.revoke(id, by, reason)) revoked += 1;
    return revoked;
  }
}
