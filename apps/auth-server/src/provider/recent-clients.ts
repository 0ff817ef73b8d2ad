/**
 * Client rows as last read by refresh grants, kept for up to CLIENT_FRESH_MS. oidc-provider looks
 * its client up at the start of every request: on a refresh grant, the request clients make at
 * machine rate, that SELECT was a fifth of the grant's SQLite work on the main thread (about 25 µs
 * in situ, measured in the commit that brought this in), a round trip on PostgreSQL, for a row
 * that changes a few times in its life. Only refresh grants use it (database-adapter.ts
 * findClient): a refresh token dies with its client (below), while a client credentials token
 * (a service account disabled or narrowed at one replica) has no grant to revoke, so every other
 * request reads the row. The same bound as users (user-store.ts USER_FRESH_MS):
 *
 * - A change made in this process (database-adapter.ts, model-store.ts) drops the row's entry
 *   before and after its statement, and a read that overlapped any change is not kept, so this
 *   process sees the change on its next read: at once on SQLite (reads wait for a transaction to
 *   end), once its transaction commits, within the bound, on PostgreSQL.
 * - A change made by another replica or the CLI is seen within CLIENT_FRESH_MS. What a client's
 *   deletion must stop does not hang on it: the deletion publishes the client's revocation entry
 *   and then revokes its grants (client-registry.ts), whose entries refuse every token of those
 *   grants, even one minted after (revocation-entry.ts), and their refresh tokens are gone from the
 *   database, which is never cached.
 * - Expiry (a registration pending first use) is checked by the caller on every read, against the
 *   row's `expires_at`, as the SELECT does.
 * - Only rows found are kept: an unknown client id is looked up each time (a Client ID Metadata
 *   Document client is resolved after the adapter finds nothing).
 */
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';

/** How long a client row read may answer from memory, in milliseconds. */
export const CLIENT_FRESH_MS = 1000;
const MAX_KEPT = 10_000;

export class RecentClients<Row> {
  readonly #rows = new Map<string, { row: Row; readAt: number }>();
  /** Bumped as each change begins and ends: a read that saw it move is not kept. */
  #changes = 0;
  #changing = 0;

  /** The row of `id` (stored id) read within CLIENT_FRESH_MS of `nowMs`, or `load`'s answer. */
  async read(id: string, nowMs: number, load: () => Promise<Row | undefined>): Promise<Row | undefined> {
    const kept = this.#rows.get(id);
    if (kept && nowMs >= kept.readAt && nowMs - kept.readAt < CLIENT_FRESH_MS) return kept.row;
    const changes = this.#changes;
    const row = await load();
    if (row === undefined || this.#changing > 0 || changes !== this.#changes) {
      this.#rows.delete(id);
      return row;
    }
    if (this.#rows.size >= MAX_KEPT) this.#rows.clear();
    this.#rows.set(id, { row, readAt: nowMs });
    return row;
  }

  /** Runs `write`, a change to client `id` (stored id; every client when undefined), dropping what is kept of it. */
  async change<T>(id: string | undefined, write: () => Promise<T>): Promise<T> {
    this.#forget(id);
    this.#changing += 1;
    try {
      return await write();
    } finally {
      this.#changing -= 1;
      this.#forget(id);
    }
  }

  #forget(id: string | undefined): void {
    this.#changes += 1;
    if (id === undefined) this.#rows.clear();
    else this.#rows.delete(id);
  }
}

const byDatabase = new WeakMap<SqlDatabase, RecentClients<unknown>>();

/** The one RecentClients of `db`, shared by the adapter and the model store. */
export function recentClients<Row>(db: SqlDatabase): RecentClients<Row> {
  let recent = byDatabase.get(db);
  if (!recent) byDatabase.set(db, (recent = new RecentClients()));
  return recent as RecentClients<Row>;
}
