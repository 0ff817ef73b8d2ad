/**
 * The audit log's tables: `audit_events`, and `audit_values`, which holds once each value that
 * repeats from event to event (event name, actor, actor id, address, client, scope, resource).
 *
 * - Events refer to those values by number, and their indexes hold numbers instead of text (a
 *   client id is 43 characters): with a token's grant id, scope and resource out of the JSON
 *   (stored-details.ts), an issued-and-refreshed grant's two events take about 560 bytes less on
 *   disk, their indexes included (bench/disk-per-grant.ts, 1k grants: 750 → 190 B).
 * - A value records when it was last written (`last_at`, the latest `at` of the events that use
 *   it); `pruneValues` deletes those older than the oldest event left, which no event can use.
 *   Writers set `last_at` in the statement that finds the value's number, in the transaction
 *   (PostgreSQL: the statement) that inserts the events: a prune running at the same moment
 *   either sees the new `last_at` or waits for that row (PostgreSQL re-checks a row it waited
 *   for), so no event is left pointing at nothing. The same scheme as the connection events'
 *   values (apps/shared/connections/connection-event-store.ts).
 * - On SQLite the server remembers the values it wrote (it is the only process that deletes
 *   values, see `AuditStore`); on PostgreSQL nothing is remembered, so every replica reads what
 *   the database holds.
 */
import type { SqlDatabase, SqlExecutor, SqlValue } from '../../../shared/storage/sql-database.ts';

/** An event as stored, before the table gives it an id. */
export interface StoredEvent {
  /** Epoch milliseconds. */
  at: number;
  event: string;
  actor: string;
  actorId: string | null;
  ip: string | null;
  clientId: string | null;
  grantId: string | null;
  scope: string | null;
  resource: string | null;
  /** What no column says, as JSON. */
  details: string;
}

/** An event as read back, the values in place of their numbers. */
export interface StoredRow {
  id: number;
  at: number;
  event: string | null;
  actor: string | null;
  actor_id: string | null;
  ip: string | null;
  client_id: string | null;
  grant_id: string | null;
  scope: string | null;
  resource: string | null;
  details: string;
}

/** The fields kept in the values table: the event's field, its reference column, the name read back. */
const SHARED = [
  ['event', 'event_ref', 'event'], ['actor', 'actor_ref', 'actor'], ['actorId', 'actor_id_ref', 'actor_id'],
  ['ip', 'ip_ref', 'ip'], ['clientId', 'client_ref', 'client_id'], ['scope', 'scope_ref', 'scope'],
  ['resource', 'resource_ref', 'resource'],
] as const satisfies ReadonlyArray<readonly [keyof StoredEvent, string, keyof StoredRow]>;
const COLUMNS = ['at', ...SHARED.map(([, column]) => column), 'grant_id', 'details'];
/** Rows per INSERT: 10 parameters each, far below SQLite's limit on bound parameters. */
const ROWS_PER_STATEMENT = 100;
/**
 * How far a value's `last_at` may lag behind the events that use it, in milliseconds (one hour):
 * the prune keeps values this much longer. On SQLite it lets a value known to the process be
 * used without writing its row again for every event (below).
 */
const LAST_AT_SLACK = 3_600_000;
/** Values the SQLite process remembers; beyond this it starts again from none. */
const MAX_KNOWN = 10_000;

const SHARED_FIELDS = SHARED.map(([field]) => field);

/**
 * The SQLite statements for `rows` rows, each text built once: a text built per write cost its
 * building, and hashing it again to find its prepared statement.
 */
const upsertSqlite = sqlPerRowCount((rows) => `INSERT INTO audit_values AS v (value, last_at) VALUES ${Array(rows).fill('(?, ?)').join(', ')}
  ON CONFLICT (value) DO UPDATE SET last_at = max(v.last_at, excluded.last_at) RETURNING id, value, last_at`);
const insertSqlite = sqlPerRowCount((rows) => `INSERT INTO audit_events (${COLUMNS.join(', ')}) VALUES ${Array(rows).fill(`(${COLUMNS.map(() => '?').join(', ')})`).join(', ')}`);

function sqlPerRowCount(build: (rows: number) => string): (rows: number) => string {
  const texts: string[] = [];
  return (rows) => (texts[rows] ??= build(rows));
}
const BUMP_SQLITE = 'UPDATE audit_values SET last_at = max(last_at, ?) WHERE id = ?';

/**
 * PostgreSQL: the values and the events in one statement (one round trip, atomic), the rows as
 * one JSON array, inserted in order so ids follow it. Values are numbered in a fixed order, so
 * two replicas writing the same values lock them in the same order.
 */
const INSERT_POSTGRES = `WITH rows AS (
    SELECT e.value AS r, e.n FROM jsonb_array_elements(@rows::jsonb) WITH ORDINALITY AS e(value, n)
  ), used AS (
    SELECT u.value, max((rows.r ->> 'at')::bigint) AS last_at
    FROM rows CROSS JOIN LATERAL (VALUES ${SHARED.map(([field]) => `(rows.r ->> '${field}')`).join(', ')}) AS u(value)
    WHERE u.value IS NOT NULL GROUP BY u.value
  ), numbered AS (
    INSERT INTO audit_values AS v (value, last_at) SELECT value, last_at FROM used ORDER BY value
    ON CONFLICT (value) DO UPDATE SET last_at = greatest(v.last_at, excluded.last_at) RETURNING v.id, v.value
  )
  INSERT INTO audit_events (${COLUMNS.join(', ')})
  SELECT (r ->> 'at')::bigint, ${SHARED.map(([field]) => `(SELECT id FROM numbered WHERE value = r ->> '${field}')`).join(', ')},
    r ->> 'grantId', r ->> 'details'
  FROM rows ORDER BY n`;

/** The events with their values read back; a caller adds WHERE, ORDER BY and LIMIT. */
export const SELECT_EVENTS = `SELECT e.id, e.at, ${SHARED.map(([, , name], i) => `v${i}.value AS ${name}`).join(', ')}, e.grant_id, e.details
  FROM audit_events e ${SHARED.map(([, column], i) => `LEFT JOIN audit_values v${i} ON v${i}.id = e.${column}`).join(' ')}`;

/** The number a filter compares a reference column with (none when the value was never stored). */
export const VALUE_NUMBER = '(SELECT id FROM audit_values WHERE value = ?)';

export class AuditStore {
  readonly #db: SqlDatabase;
  /**
   * SQLite only, where the server is the only process that deletes values (a CLI command beside
   * it may insert events and values, which a remembered number never contradicts: a value keeps
   * its number until the server's own `pruneValues` deletes it): the values as committed, with
   * their number and `last_at`. An event whose values are all known is one INSERT that joins the
   * group commit (apps/shared/storage/group-commit.ts) instead of a transaction of its own: a
   * refresh grant's audit row is then written as cheaply as before the values table. Filled only
   * from statements on the database itself (never from a caller's transaction, which may roll
   * back), and emptied of what `pruneValues` deletes. PostgreSQL keeps nothing: replicas share it.
   */
  readonly #known = new Map<string, { id: number; lastAt: number }>();

  constructor(db: SqlDatabase) {
    this.#db = db;
  }

  /** Inserts `events` in order with the values they use; in the caller's transaction when given one. */
  async insert(events: StoredEvent[], tx: SqlExecutor = this.#db): Promise<void> {
    if (events.length === 0) return;
    if (tx.dialect === 'postgres') {
      await tx.run(INSERT_POSTGRES, { rows: JSON.stringify(events) });
      return;
    }
    const own = tx === this.#db;
    // One pass over the events' values: the known ones give their numbers (and are bumped when
    // their last_at lags), the others are upserted with the latest `at` that uses them.
    const numbers = new Map<string, number>();
    const missing = new Map<string, number>();
    const bumped = new Map<{ id: number; lastAt: number }, number>();
    for (const event of events) {
      for (const field of SHARED_FIELDS) {
        const value = event[field];
        if (value === null) continue;
        const known = this.#known.get(value);
        if (!known) {
          if (!(missing.get(value)! >= event.at)) missing.set(value, event.at);
          continue;
        }
        numbers.set(value, known.id);
        // Keeps last_at within LAST_AT_SLACK of the newest event using the value.
        if (known.lastAt < event.at - LAST_AT_SLACK && !(bumped.get(known)! >= event.at)) bumped.set(known, event.at);
      }
    }
    const writes: Array<Promise<unknown>> = [];
    for (const [known, at] of bumped) writes.push(tx.run(BUMP_SQLITE, [at, known.id]));
    if (missing.size > 0) {
      const rows = await tx.all<{ id: number; value: string; last_at: number }>(upsertSqlite(missing.size), [...missing].flat());
      for (const row of rows) {
        numbers.set(row.value, Number(row.id));
        if (own) this.#remember(row.value, Number(row.id), Number(row.last_at));
      }
    }
    for (let start = 0; start < events.length; start += ROWS_PER_STATEMENT) {
      const end = Math.min(start + ROWS_PER_STATEMENT, events.length);
      const values: SqlValue[] = [];
      for (let i = start; i < end; i += 1) {
        const event = events[i]!;
        values.push(event.at);
        for (const field of SHARED_FIELDS) {
          const value = event[field];
          values.push(value === null ? null : numbers.get(value)!);
        }
        values.push(event.grantId, event.details);
      }
      writes.push(tx.run(insertSqlite(end - start), values));
    }
    await Promise.all(writes);
    if (own) for (const [known, at] of bumped) known.lastAt = Math.max(known.lastAt, at);
  }

  /** The numbers of `value` in any case: PostgreSQL's index is on lower(value), SQLite's on value COLLATE NOCASE. */
  async numbersOfAnyCase(value: string): Promise<number[]> {
    const rows = await this.#db.all<{ id: number }>(this.#db.dialect === 'postgres'
      ? 'SELECT id FROM audit_values WHERE lower(value) = lower(?)'
      : 'SELECT id FROM audit_values WHERE value = ? COLLATE NOCASE', [value]);
    return rows.map((row) => Number(row.id));
  }

  /**
   * Deletes the values no event left can use: every event that uses a value is at most
   * LAST_AT_SLACK newer than the value's `last_at`, and min(at) is one probe of the `at` index.
   * (With no event left, nothing is deleted: the next prune after new events takes them.)
   */
  async pruneValues(): Promise<number> {
    const gone = await this.#db.all<{ value: string }>(
      'DELETE FROM audit_values WHERE last_at < (SELECT min(at) FROM audit_events) - ? RETURNING value', [LAST_AT_SLACK]);
    for (const { value } of gone) this.#known.delete(value);
    return gone.length;
  }

  #remember(value: string, id: number, lastAt: number): void {
    if (this.#known.size >= MAX_KNOWN) this.#known.clear();
    this.#known.set(value, { id, lastAt });
  }
}
