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
 * - Migrations: migrate-postgres.ts.
 */
import pg from 'pg';
import { DatabaseConflictError, DatabaseUnavailableError, isLostConnection, isTransactionConflict } from './database-unavailable-error.ts';
import { hasNulCharacter, NulCharacterError } from './nul-character-error.ts';
import type { SqlDatabase, SqlExecutor, SqlParams, SqlRunResult } from './sql-database.ts';
import { StatementNames } from './statement-names.ts';
import { toPostgresPlaceholders } from './to-postgres-placeholders.ts';

const INT8 = 20;
const NUMERIC = 1700;

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
export async function connect(pool: pg.Pool): Promise<pg.PoolClient> {
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
