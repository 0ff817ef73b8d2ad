/**
 * Who held up a PostgreSQL migration, for its MigrationBlockedError: the sessions holding a lock
 * on a relation in the schemas the migration works in (`current_schemas`, where Gatehouse's
 * tables are) whose transaction began at least `heldForMs` ago, the oldest first. The lock the
 * last attempt waited for was held for all of that attempt's lock_timeout, so its holder is among
 * them; sessions in shorter transactions (a replica's requests) are left out.
 *
 * - Each is told by pid, application_name (`pg_dump` for a nightly backup, `gatehouse` for a
 *   replica, `psql` for a person), state and how long its transaction has been open; never by
 *   its query's text, which may carry data (a statement's literal values).
 * - Bounded: at most `MAX_SHOWN` sessions (with how many there were in all), and the statement
 *   is cancelled past `LOOKUP_TIMEOUT_MS`.
 * - It never throws: when the lookup fails (the connection lost, the statement cancelled) it
 *   resolves to undefined, and the migration's line is said without them.
 *
 * Deliberately not told apart: which of them holds the table the migration needed. PostgreSQL's
 * lock_timeout error names no table, and the request has left the lock queue by now.
 */
import type pg from 'pg';

export interface LockHolder {
  pid: number;
  /** As the session set it; '' when it set none. PostgreSQL keeps only printable ASCII in it. */
  applicationName: string;
  /** pg_stat_activity's (`idle in transaction`, `active`); null when this role may not see it (another role's session). */
  state: string | null;
  /** Whole seconds since its transaction began; null when this role may not see it. */
  transactionOpenSeconds: number | null;
}

export interface LockHolders {
  /** The first `MAX_SHOWN`, the oldest transaction first. */
  shown: LockHolder[];
  /** How many sessions there were in all. */
  total: number;
}

export const MAX_SHOWN = 3;
const LOOKUP_TIMEOUT_MS = 1000;

const FIND_LOCK_HOLDERS = `SELECT a.pid, a.application_name, a.state,
    floor(extract(epoch FROM clock_timestamp() - a.xact_start))::int AS open_seconds, count(*) OVER () AS total
  FROM pg_locks l
  JOIN pg_class c ON c.oid = l.relation
  JOIN pg_stat_activity a ON a.pid = l.pid
  WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid()
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND c.relnamespace IN (SELECT oid FROM pg_namespace WHERE nspname = ANY (current_schemas(false)))
    AND (a.xact_start IS NULL OR a.xact_start <= clock_timestamp() - $1::int * interval '1 millisecond')
  GROUP BY a.pid, a.application_name, a.state, a.xact_start
  ORDER BY a.xact_start NULLS LAST, a.pid
  LIMIT ${MAX_SHOWN}`;

interface Row {
  pid: number;
  application_name: string | null;
  state: string | null;
  open_seconds: number | null;
  total: number;
}

/** `client` is in a transaction (the migration's, rolled back to its savepoint): the timeout is SET LOCAL. */
export async function findLockHolders(client: pg.ClientBase, heldForMs: number): Promise<LockHolders | undefined> {
  try {
    await client.query("SELECT set_config('statement_timeout', $1, true)", [`${LOOKUP_TIMEOUT_MS}ms`]);
    const { rows } = await client.query<Row>(FIND_LOCK_HOLDERS, [heldForMs]);
    return {
      shown: rows.map((row) => ({ pid: row.pid, applicationName: row.application_name ?? '', state: row.state, transactionOpenSeconds: row.open_seconds })),
      total: Number(rows[0]?.total ?? 0),
    };
  } catch {
    return undefined;
  }
}
