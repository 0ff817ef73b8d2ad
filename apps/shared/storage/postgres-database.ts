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
 * - Migrations run under a session advisory lock, so replicas starting together apply each file
 *   once; every file runs in a transaction with its row in `schema_migrations` (PostgreSQL's DDL
 *   is transactional), so a failed migration leaves nothing half-applied.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { DatabaseUnavailableError, isLostConnection } from './database-unavailable-error.ts';
import { hasNulCharacter, NulCharacterError } from './nul-character-error.ts';
import { refuseNewerSchema } from './refuse-newer-schema.ts';
import { migrationFiles } from './sqlite-database.ts';
import type { SqlDatabase, SqlExecutor, SqlParams, SqlRunResult } from './sql-database.ts';
import { toPostgresPlaceholders } from './to-postgres-placeholders.ts';

const INT8 = 20;
const NUMERIC = 1700;
/** pg_advisory_lock key taken while migrating: "gatehous" in ASCII, so it is recognisable. */
const MIGRATION_LOCK = '7449363237540164979';

export interface PostgresOptions {
  /** postgres://user:password@host:port/database?sslmode=… */
  url: string;
  /** Connections this process keeps at most. Default is 10. */
  maxConnections?: number;
  /** In milliseconds; the server cancels a statement that runs longer. Default is 5000. */
  statementTimeoutMs?: number;
  /** In milliseconds; how long a query waits for a free or new connection. Default is 5000. */
  connectTimeoutMs?: number;
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
async function query(client: pg.Pool | pg.PoolClient, text: string, values: unknown[]): Promise<pg.QueryResult> {
  const connection = client instanceof pg.Pool ? await connect(client) : client;
  let failure: Error | undefined;
  try {
    return await connection.query(text, values);
  } catch (err) {
    failure = err as Error;
    throw isLostConnection(err) ? new DatabaseUnavailableError({ cause: err }) : err;
  } finally {
    // A connection whose statement failed is closed, not reused, as pool.query does.
    if (connection !== client) (connection as pg.PoolClient).release(failure);
  }
}

function executor(client: pg.Pool | pg.PoolClient): SqlExecutor {
  return {
    dialect: 'postgres',
    async all<Row>(sql: string, params?: SqlParams): Promise<Row[]> {
      const { text, values } = statement(sql, params);
      return (await query(client, text, values)).rows as Row[];
    },
    async get<Row>(sql: string, params?: SqlParams): Promise<Row | undefined> {
      const { text, values } = statement(sql, params);
      return (await query(client, text, values)).rows[0] as Row | undefined;
    },
    async run(sql: string, params?: SqlParams): Promise<SqlRunResult> {
      const { text, values } = statement(sql, params);
      return { changes: (await query(client, text, values)).rowCount ?? 0 };
    },
  };
}

/**
 * The statement in PostgreSQL's form. A parameter with U+0000 is refused here, as a client error
 * (NulCharacterError), not sent: the server would refuse the statement with an error that reads
 * as the database failing (SQLSTATE 22021) and is answered 500.
 */
function statement(sql: string, params?: SqlParams): { text: string; values: unknown[] } {
  const translated = toPostgresPlaceholders(sql, params);
  if (hasNulCharacter(translated.values)) throw new NulCharacterError();
  return translated;
}

export class PostgresDatabase implements SqlDatabase {
  readonly dialect = 'postgres' as const;
  readonly location: string;
  readonly pool: pg.Pool;
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
    this.#executor = executor(this.pool);
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
    try {
      await query(client, 'BEGIN', []);
      try {
        const result = await fn(executor(client));
        await query(client, 'COMMIT', []);
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        throw err;
      }
    } catch (err) {
      // BEGIN on a connection the server ended: it must not go back to the pool.
      if (err instanceof DatabaseUnavailableError) broken ??= err;
      throw err;
    } finally {
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

/**
 * Applies every migration in `dir` not yet recorded for `app`; returns the names applied now.
 * Both apps share the database, so `schema_migrations` is keyed by (app, version).
 */
export async function migratePostgres(db: PostgresDatabase, app: string, dir: string, clock: () => number = Date.now): Promise<string[]> {
  // The first statement a starting app sends: a database not listening is said in one line
  // (exit-on-start-failure.ts), not with a stack.
  const client = await connect(db.pool);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        app        TEXT NOT NULL,
        version    TEXT NOT NULL,
        applied_at BIGINT NOT NULL,
        PRIMARY KEY (app, version)
      )`);
      const { rows } = await client.query<{ version: string }>('SELECT version FROM schema_migrations WHERE app = $1', [app]);
      const applied = new Set(rows.map((row) => row.version));
      const files = migrationFiles(dir);
      refuseNewerSchema(`the PostgreSQL database (${app})`, applied, files);
      const ran: string[] = [];
      for (const file of files) {
        if (applied.has(file)) continue;
        const sql = readFileSync(join(dir, file), 'utf8');
        await client.query('BEGIN');
        try {
          await client.query(sql);
          await client.query('INSERT INTO schema_migrations (app, version, applied_at) VALUES ($1, $2, $3)', [app, file, clock()]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
        ran.push(file);
      }
      return ran;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}
