/**
 * The PostgreSQL backend (node-postgres): one database shared by every replica of both apps.
 *
 * - A bounded pool per process (`max` connections); a statement that runs longer than
 *   `statementTimeoutMs` is cancelled by the server, and waiting for a free connection is
 *   bounded too, so a stuck database turns into errors (503 from the health check), not a pile
 *   of hung requests.
 * - TLS as libpq spells it in the URL: `?sslmode=require` (encrypted), `verify-full` (and
 *   `sslrootcert=/path/ca.pem`) to check the server's certificate, as managed databases document
 *   (`withLibpqSslModes`).
 * - BIGINT (`int8`) and NUMERIC come back as numbers, as on SQLite: every integer stored is an
 *   epoch time or a count far below 2^53.
 * - A string parameter holding U+0000, which text cannot hold, throws NulCharacterError (a 400)
 *   before the statement is sent: it always comes from a request, never from a failing database.
 * - No connection to be had, or one the server ended under a statement (a restart, a failover),
 *   throws DatabaseUnavailableError (a 503); the pool connects again for the next statement.
 * - Each statement the apps send is named (a prepared statement), so PostgreSQL parses and plans
 *   it once per connection instead of on every call (`StatementNames`). A statement whose result
 *   columns follow the table's (`SELECT *`, `RETURNING *`) stays unnamed: during a rolling
 *   upgrade, a newer replica's migration may add a column, and PostgreSQL refuses a prepared
 *   statement whose result shape changed ("cached plan must not change result type"). A column
 *   whose type a migration changes still causes that refusal: the connection is then closed and,
 *   outside a transaction, the statement runs again on a fresh one. `preparedStatements: false`
 *   sends every statement unnamed, for a transaction-mode pooler that does not keep them.
 * - Migrations run under an advisory lock, so replicas starting together apply each file once,
 *   and without statement_timeout (`migratePostgres`); every file runs in a transaction with its
 *   row in `schema_migrations` (PostgreSQL's DDL is transactional), so a failed migration leaves
 *   nothing half-applied. A migration waits for a table another session holds locked only
 *   briefly (lock_timeout), tried again a few times, so that the queries queued behind its lock
 *   request are not held up for as long as that session's transaction lasts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { DatabaseConflictError, DatabaseUnavailableError, isLostConnection, isTransactionConflict } from './database-unavailable-error.ts';
import { findLockHolders } from './find-lock-holders.ts';
import { MigrationBlockedError } from './migration-blocked-error.ts';
import { hasNulCharacter, NulCharacterError } from './nul-character-error.ts';
import { refuseNewerSchema } from './refuse-newer-schema.ts';
import { migrationFiles } from './sqlite-database.ts';
import type { SqlDatabase, SqlExecutor, SqlParams, SqlRunResult } from './sql-database.ts';
import { toPostgresPlaceholders } from './to-postgres-placeholders.ts';

const INT8 = 20;
const NUMERIC = 1700;
/** pg_advisory_lock key taken while migrating: "gatehous" in ASCII, so it is recognisable. */
export const MIGRATION_LOCK = '7449363237540164979';

export interface PostgresOptions {
  /** postgres://user:password@host:port/database?sslmode=… */
  url: string;
  /** Connections this process keeps at most. Default is 10. */
  maxConnections?: number;
  /** In milliseconds; the server cancels a statement that runs longer. Default is 5000. */
  statementTimeoutMs?: number;
  /** In milliseconds; how long a query waits for a free or new connection. Default is 5000. */
  connectTimeoutMs?: number;
  /**
   * Whether statements are named, so PostgreSQL plans each once per connection. Default is true;
   * false behind a transaction-mode pooler that does not track named statements (PgBouncer
   * before 1.21, or with `max_prepared_statements = 0`).
   */
  preparedStatements?: boolean;
}

/**
 * How many distinct statements a process names at most. The apps send a few dozen; the bound
 * keeps statements built from a request's shape (a list of n placeholders) from growing every
 * connection's cache on the server without end. Past it, statements run unnamed. Each costs the
 * server about 24 KB per connection (PostgreSQL 15, pg_backend_memory_contexts after sign-ins and
 * refreshes: 31 statements, 740 KB of cached plans), so at most about 5 MB per connection.
 */
export const MAX_NAMED_STATEMENTS = 200;

/**
 * The name each statement text is prepared under: the same in every connection of the pool, so
 * node-postgres parses a text once per connection and then only binds and executes it.
 */
class StatementNames {
  readonly #names = new Map<string, string | undefined>();
  readonly #enabled: boolean;

  constructor(enabled: boolean) {
    this.#enabled = enabled;
  }

  /** The name for `text`, or undefined to send it unnamed. */
  nameFor(text: string): string | undefined {
    if (!this.#enabled) return undefined;
    if (this.#names.has(text)) return this.#names.get(text);
    if (this.#names.size >= MAX_NAMED_STATEMENTS) return undefined;
    const name = followsTableColumns(text) ? undefined : `gatehouse_${this.#names.size}`;
    this.#names.set(text, name);
    return name;
  }
}

/**
 * A statement whose result columns are the table's (`SELECT *`, `t.*`, `RETURNING *`): its shape
 * changes when a migration adds a column, which a prepared statement may not survive. Any `*`
 * outside `count(*)` counts, which is on the safe side (a product runs unnamed, no harm done).
 */
function followsTableColumns(text: string): boolean {
  return text.replace(/count\(\*\)/gi, '').includes('*');
}

/**
 * PostgreSQL refusing a prepared statement whose result columns changed since it was planned
 * (SQLSTATE 0A000): a migration changed a column's type under a running replica. The statement
 * keeps failing on that connection, so the connection has to go.
 */
export function isStalePlan(err: unknown): boolean {
  const { code, message } = err as { code?: unknown; message?: unknown };
  return code === '0A000' && typeof message === 'string' && message.includes('cached plan must not change result type');
}

/**
 * The URL node-postgres is given, so that `sslmode` means what libpq says it means: `require`
 * encrypts without checking the certificate (with `sslrootcert`, checks the CA only),
 * `verify-ca`, `verify-full`. node-postgres 8 does so only with `uselibpqcompat=true`; without
 * it, it checks every mode as `verify-full` (so `require` refuses a managed database's private
 * CA) and writes a multi-line warning to stderr. An explicit `uselibpqcompat` is left as it is.
 */
export function withLibpqSslModes(url: string): string {
  const params = URL.parse(url)?.searchParams;
  if (!params?.has('sslmode') || params.has('uselibpqcompat')) return url;
  return `${url}&uselibpqcompat=true`;
}

function parseNumber(value: string): number {
  return Number(value);
}

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 || oid === NUMERIC) return parseNumber;
    return pg.types.getTypeParser(oid, format);
  },
};

/**
 * The URL without its passwords, for logs and errors: the one in `user:password@`, and any query
 * parameter named for one (`?password=`, `?sslpassword=`), which node-postgres also reads
 * (pg-connection-string copies every query parameter into the connection's settings).
 */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const name of [...parsed.searchParams.keys()]) {
      if (/pass/i.test(name)) parsed.searchParams.set(name, '***');
    }
    return parsed.toString();
  } catch {
    return 'postgres://…';
  }
}

/** A connection from the pool; failing to get one means the database is unavailable. */
async function connect(pool: pg.Pool): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (err) {
    throw new DatabaseUnavailableError({ cause: err });
  }
}

/** Runs one statement on `client`, or, given the pool, on a connection of its own (as pool.query does). */
async function query(client: pg.Pool | pg.PoolClient, statement: pg.QueryConfig): Promise<pg.QueryResult> {
  if (!(client instanceof pg.Pool)) return runOn(client, statement);
  try {
    return await queryOwnConnection(client, statement);
  } catch (err) {
    // Refused before it ran, so running it again cannot apply it twice. The stale connection was
    // closed; a fresh one plans the statement anew.
    if (isStalePlan(err)) return queryOwnConnection(client, statement);
    throw err;
  }
}

async function queryOwnConnection(pool: pg.Pool, statement: pg.QueryConfig): Promise<pg.QueryResult> {
  const connection = await connect(pool);
  let failure: Error | undefined;
  // As in a transaction: the server ending the connection while it is checked out (a restart)
  // emits 'error' on it, which pg-pool listens to only while it is idle; unheard, it was an
  // uncaught exception (seen once in CI, in the database-unavailable test).
  const lost = (err: Error) => (failure ??= err);
  connection.on('error', lost);
  try {
    return await runOn(connection, statement);
  } catch (err) {
    failure = err as Error;
    throw err;
  } finally {
    connection.off('error', lost);
    // A connection whose statement failed is closed, not reused, as pool.query does.
    connection.release(failure);
  }
}

async function runOn(connection: pg.PoolClient, statement: pg.QueryConfig): Promise<pg.QueryResult> {
  try {
    return await connection.query(statement);
  } catch (err) {
    if (isLostConnection(err)) throw new DatabaseUnavailableError({ cause: err });
    throw isTransactionConflict(err) ? new DatabaseConflictError({ cause: err }) : err;
  }
}

function executor(client: pg.Pool | pg.PoolClient, names: StatementNames): SqlExecutor {
  return {
    dialect: 'postgres',
    async all<Row>(sql: string, params?: SqlParams): Promise<Row[]> {
      return (await query(client, statement(sql, params, names))).rows as Row[];
    },
    async get<Row>(sql: string, params?: SqlParams): Promise<Row | undefined> {
      return (await query(client, statement(sql, params, names))).rows[0] as Row | undefined;
    },
    async run(sql: string, params?: SqlParams): Promise<SqlRunResult> {
      return { changes: (await query(client, statement(sql, params, names))).rowCount ?? 0 };
    },
  };
}

/**
 * The statement in PostgreSQL's form, named when it may be prepared. A parameter with U+0000 is
 * refused here, as a client error (NulCharacterError), not sent: the server would refuse the
 * statement with an error that reads as the database failing (SQLSTATE 22021) and is answered 500.
 */
function statement(sql: string, params: SqlParams | undefined, names: StatementNames): pg.QueryConfig {
  const { text, values } = toPostgresPlaceholders(sql, params);
  if (hasNulCharacter(values)) throw new NulCharacterError();
  return { name: names.nameFor(text), text, values };
}

export class PostgresDatabase implements SqlDatabase {
  readonly dialect = 'postgres' as const;
  readonly location: string;
  readonly pool: pg.Pool;
  readonly #names: StatementNames;
  readonly #executor: SqlExecutor;

  constructor(options: PostgresOptions) {
    this.location = redactDatabaseUrl(options.url);
    this.pool = new pg.Pool({
      connectionString: withLibpqSslModes(options.url),
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      statement_timeout: options.statementTimeoutMs ?? 5000,
      // A transaction left open by a crashed request must not hold its locks for ever.
      idle_in_transaction_session_timeout: 60_000,
      application_name: 'gatehouse',
      types,
    });
    // An idle connection the server dropped: the pool replaces it; nothing is in flight on it.
    this.pool.on('error', () => {});
    this.#names = new StatementNames(options.preparedStatements ?? true);
    this.#executor = executor(this.pool, this.#names);
  }

  all<Row>(sql: string, params?: SqlParams): Promise<Row[]> {
    return this.#executor.all<Row>(sql, params);
  }

  get<Row>(sql: string, params?: SqlParams): Promise<Row | undefined> {
    return this.#executor.get<Row>(sql, params);
  }

  run(sql: string, params?: SqlParams): Promise<SqlRunResult> {
    return this.#executor.run(sql, params);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await connect(this.pool);
    let broken: Error | undefined;
    // The server ending the connection mid-transaction (a restart) fails the statement running and
    // also emits 'error' on the connection, which pg-pool listens to only while it is idle: unheard,
    // it was an uncaught exception. The statement's failure is what the caller gets.
    const lost = (err: Error) => (broken ??= err);
    client.on('error', lost);
    try {
      await runOn(client, { text: 'BEGIN' });
      try {
        const result = await fn(executor(client, this.#names));
        await runOn(client, { text: 'COMMIT' });
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        throw err;
      }
    } catch (err) {
      // BEGIN on a connection the server ended, or a statement whose plan went stale: the
      // connection must not go back to the pool.
      if ((err instanceof DatabaseUnavailableError && !(err instanceof DatabaseConflictError)) || isStalePlan(err)) broken ??= err as Error;
      throw err;
    } finally {
      client.off('error', lost);
      client.release(broken);
    }
  }

  async releaseFreePages(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

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
