/**
 * PostgreSQL migrations (`migratePostgres`): the numbered files in `migrations/postgres/<app>/`,
 * applied by every replica of both apps at start and by the CLI before its command.
 *
 * They run under an advisory lock, so replicas starting together apply each file once, and
 * without statement_timeout; every file runs in a transaction with its row in `schema_migrations`
 * (PostgreSQL's DDL is transactional), so a failed migration leaves nothing half-applied. A
 * migration waits for a table another session holds locked only briefly (lock_timeout), tried
 * again a few times, so that the queries queued behind its lock request are not held up for as
 * long as that session's transaction lasts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { findLockHolders } from './find-lock-holders.ts';
import { MigrationBlockedError } from './migration-blocked-error.ts';
import { connect, type PostgresDatabase } from './postgres-database.ts';
import { refuseNewerSchema } from './refuse-newer-schema.ts';
import { migrationFiles } from './sqlite-database.ts';

/** pg_advisory_lock key taken while migrating: "gatehous" in ASCII, so it is recognisable. */
export const MIGRATION_LOCK = '7449363237540164979';

/** How `migratePostgres` waits for the tables a migration changes. */
export interface MigrateOptions {
  /** Stamps `applied_at`, in epoch milliseconds. Default is Date.now. */
  clock?: () => number;
  /**
   * In milliseconds; how long a step's statement waits for a lock on a table (`lock_timeout`)
   * before the step is rolled back and tried again. Every query on that table waits behind the
   * request meanwhile, so this is the longest a migration holds the deployment up. Default is 2000.
   */
  lockTimeoutMs?: number;
  /** How many times a step is tried before the start fails. Default is 5. */
  attempts?: number;
  /**
   * Waits between attempts, given milliseconds: 1000, then twice as long each time (1 + 2 + 4 +
   * 8 s with the default attempts). Default is a timer; tests pass one that does not wait.
   */
  sleep?: (ms: number) => Promise<void>;
}

/** The first wait between attempts, in milliseconds; each next one is twice as long. */
const FIRST_RETRY_DELAY_MS = 1000;

/**
 * Applies every migration in `dir` not yet recorded for `app`; returns the names applied now.
 * Both apps share the database, so `schema_migrations` is keyed by (app, version).
 *
 * - Each step is one transaction that first takes the migration lock (a transaction-level
 *   advisory lock) and then reads `schema_migrations` again, so replicas starting together apply
 *   each file once even behind a transaction-mode pooler, where a session lock taken by one
 *   statement may be held on a server connection the next statement never reaches.
 * - Waiting for the migration lock has no bound (SET LOCAL statement_timeout and lock_timeout to
 *   0; lock_timeout applies to advisory locks too, and a role may set one): rewriting every row of
 *   a large table, or waiting for another replica doing so, takes longer than a request's
 *   statement, and a cancelled migration would be cancelled again on every start. The lock cannot
 *   outlive the transaction that holds it, so nothing waits for a replica that is gone.
 * - Once it holds the migration lock, a step waits at most `lockTimeoutMs` for any other lock
 *   (SET LOCAL lock_timeout). ALTER TABLE takes an ACCESS EXCLUSIVE lock; while it waits for a
 *   running replica's long transaction on that table, every other query on the table queues
 *   behind it, and the whole deployment would stall for as long as that transaction lasts. On
 *   lock_not_available (55P03) the step is rolled back to a savepoint, leaving the queue but
 *   keeping the migration lock (replicas starting beside it wait for that, not on the table), and
 *   tried again after a pause (`attempts` times in all); then the start fails with a
 *   MigrationBlockedError naming the migration and the sessions holding locks on its schema's
 *   tables (find-lock-holders.ts), with nothing of it applied.
 */
export async function migratePostgres(db: PostgresDatabase, app: string, dir: string, options: MigrateOptions = {}): Promise<string[]> {
  const { clock = Date.now } = options;
  const waits: LockWaits = {
    lockTimeoutMs: options.lockTimeoutMs ?? 2000,
    attempts: options.attempts ?? 5,
    sleep: options.sleep ?? sleep,
  };
  // The first statement a starting app sends: a database not listening is said in one line
  // (exit-on-start-failure.ts), not with a stack.
  const client = await connect(db.pool);
  let failure: Error | undefined;
  try {
    const applied = await underMigrationLock(client, `reading schema_migrations for ${app}`, waits, async () => {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        app        TEXT NOT NULL,
        version    TEXT NOT NULL,
        applied_at BIGINT NOT NULL,
        PRIMARY KEY (app, version)
      )`);
      const { rows } = await client.query<{ version: string }>('SELECT version FROM schema_migrations WHERE app = $1', [app]);
      return new Set(rows.map((row) => row.version));
    });
    const files = migrationFiles(dir);
    refuseNewerSchema(`the PostgreSQL database (${app})`, applied, files);
    const ran: string[] = [];
    for (const file of files) {
      if (applied.has(file)) continue;
      const sql = readFileSync(join(dir, file), 'utf8');
      const appliedNow = await underMigrationLock(client, `migration ${file} of ${app}`, waits, async () => {
        // Another replica may have applied it since the list above was read.
        if ((await client.query('SELECT 1 FROM schema_migrations WHERE app = $1 AND version = $2', [app, file])).rowCount) return false;
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (app, version, applied_at) VALUES ($1, $2, $3)', [app, file, clock()]);
        return true;
      });
      if (appliedNow) ran.push(file);
    }
    return ran;
  } catch (err) {
    failure = err as Error;
    throw err;
  } finally {
    // After a failure the connection may be mid-transaction or gone: it is closed, not reused.
    client.release(failure);
  }
}

interface LockWaits {
  lockTimeoutMs: number;
  attempts: number;
  sleep: (ms: number) => Promise<void>;
}

/** lock_not_available: lock_timeout ran out (or NOWAIT found the lock taken). */
function isLockNotAvailable(err: unknown): boolean {
  return (err as { code?: unknown }).code === '55P03';
}

/**
 * Runs `fn` in a transaction holding the migration lock (waited for without bound), each attempt
 * under lock_timeout behind a savepoint, tried again while a lock it needs stays taken (`waits`);
 * `step` names it in the error when every attempt was refused.
 *
 * The pauses between attempts keep the migration lock: rolled back to the savepoint, the attempt
 * leaves the table's lock queue, and the replicas starting beside this one wait for the migration
 * lock instead of queueing their own ALTER TABLE on the table in the pause (with the transaction
 * ended in each pause, three replicas held the table's queries up 96 % of the time). The
 * transaction may idle in a pause (idle_in_transaction_session_timeout off for it).
 */
async function underMigrationLock<T>(client: pg.PoolClient, step: string, waits: LockWaits, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    await client.query('SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0; SET LOCAL idle_in_transaction_session_timeout = 0');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query("SELECT set_config('lock_timeout', $1, true)", [`${waits.lockTimeoutMs}ms`]);
    for (let attempt = 1; ; attempt += 1) {
      await client.query('SAVEPOINT migration_attempt');
      try {
        const result = await fn();
        await client.query('COMMIT');
        return result;
      } catch (err) {
        if (!isLockNotAvailable(err)) throw err;
        await client.query('ROLLBACK TO SAVEPOINT migration_attempt');
        if (attempt >= waits.attempts) throw new MigrationBlockedError(step, waits, await findLockHolders(client, waits.lockTimeoutMs), { cause: err });
        await waits.sleep(FIRST_RETRY_DELAY_MS * 2 ** (attempt - 1));
      }
    }
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
