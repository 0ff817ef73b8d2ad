/**
 * The SQLite backend (better-sqlite3): the embedded default, one file per app in `DATA_DIR`.
 *
 * - WAL journal, `synchronous=NORMAL` (durable across process crashes; a power loss may drop the
 *   last transactions but never corrupts the file), foreign keys on, a busy timeout so a second
 *   process (the CLI) waits instead of failing.
 * - Only the owner may read the data: a directory this creates is 0700, and the database file and
 *   its `-wal` and `-shm` are 0600, tightened at every open when an earlier version (or a copy)
 *   left them looser. SQLite creates `-wal`/`-shm` with the mode of the database file (checked on
 *   Debian's build), so a 0600 file made before SQLite opens it keeps its companions 0600 too.
 *   Deliberately not done: tightening a directory that already exists (it may be shared, e.g. /tmp).
 * - A new database is created with incremental auto-vacuum, so that `releaseFreePages` (the
 *   sweepers, after their deletes) can give the pages deleted rows left free back to the file
 *   system: expired authorization codes, for one, are the rows of the last minute or two, and a
 *   burst of sign-ins would otherwise leave the file at its peak size for good (SQLite reuses free
 *   pages, but never shrinks the file by itself). A database created before keeps its free pages
 *   for later rows; `PRAGMA auto_vacuum = INCREMENTAL` then `VACUUM`, with the app stopped,
 *   converts it (README, *Backup and restore*).
 * - Statements are prepared once per SQL text and kept.
 * - Transactions: one connection serves the whole process, so while a transaction is open (it may
 *   await between statements) every other statement waits for it to end instead of slipping into
 *   it. `BEGIN IMMEDIATE` takes the write lock at once, so two processes never deadlock upgrading.
 * - With `groupCommit` (the auth-server's database), writes through `run` are committed in groups,
 *   one per event-loop turn, each acknowledged after its group's COMMIT (group-commit.ts). Reads
 *   run at once.
 * - With `checkpointInBackground` (the auth-server's database too), a worker thread with its own
 *   connection copies the WAL back into the file, so no COMMIT stalls on a checkpoint's fsyncs
 *   (background-checkpoints.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { accessSync, chmodSync, closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { explainFileSystemError } from './deployment-file-error.ts';
import { BackgroundCheckpoints, type BackgroundCheckpointOptions } from './background-checkpoints.ts';
import { GroupCommit } from './group-commit.ts';
import { refuseNewerSchema } from './refuse-newer-schema.ts';
import type { SqlDatabase, SqlExecutor, SqlParams, SqlRunResult, SqlValue } from './sql-database.ts';

const OWNER_ONLY_FILE = 0o600;
const OWNER_ONLY_DIR = 0o700;
const COMPANIONS = ['-wal', '-shm'] as const;
/** The database whose transaction the running code is inside, if any. */
const insideTransaction = new AsyncLocalStorage<SqliteDatabase>();
/**
 * Transactions open in this process, on any database. When none is, `insideTransaction` is
 * switched off: on Node 20 and 22 an AsyncLocalStorage, once run, keeps a hook on every promise of
 * the process until it is disabled (measured: an `await` 57 → 166 ns), which took about 0.1 ms of
 * the resource server's 0.6 ms of CPU per `tools/call` (bench/mcp-whoami.ts). The next `run`
 * switches it on again.
 */
let openTransactions = 0;

/**
 * Free pages released per step of `releaseFreePages` (about 20 µs each, measured): a step holds
 * the main thread and the write lock for a few ms at most, and requests run between steps.
 */
const RELEASE_STEP_PAGES = 256;
/** `PRAGMA auto_vacuum`'s value for incremental. */
const INCREMENTAL = 2;

/** Statements kept prepared; beyond this the cache starts over (only generated SQL gets here). */
const MAX_CACHED_STATEMENTS = 500;

/** Makes the database file (creating it empty when missing) and existing companions owner-only. */
function restrictDatabaseFiles(file: string): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: OWNER_ONLY_DIR });
    // SQLite makes the -wal and -shm beside the file: a writable file in a directory it cannot
    // write fails at the first statement, as a SqliteError with a stack.
    accessSync(dirname(file), constants.W_OK);
    // An empty file is a valid new database to SQLite; `open` with a mode applies only on creation.
    closeSync(openSync(file, 'a', OWNER_ONLY_FILE));
    chmodSync(file, OWNER_ONLY_FILE);
    for (const suffix of COMPANIONS) {
      try {
        chmodSync(file + suffix, OWNER_ONLY_FILE);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  } catch (err) {
    throw explainFileSystemError('DATA_DIR', err);
  }
}

function toSqlite(value: SqlValue): string | number | bigint | Buffer | null {
  if (value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

/** better-sqlite3's binding: an array spreads into `?`s, an object binds `@name`s. */
function bind(params: SqlParams | undefined): unknown[] {
  if (params === undefined) return [];
  if (Array.isArray(params)) return params.map(toSqlite);
  const values = params as Readonly<Record<string, SqlValue>>;
  // Most objects hold nothing to convert and are bound as they are: copying one cost about 4 µs
  // against under 1 µs for this scan (measured; five such statements per refresh grant).
  for (const key in values) {
    const value = values[key];
    if (value === undefined || typeof value === 'boolean') return [convertNamed(values)];
  }
  return [values];
}

function convertNamed(params: Readonly<Record<string, SqlValue>>): Record<string, unknown> {
  const named: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) named[key] = toSqlite(value);
  return named;
}

export interface SqliteOptions {
  /**
   * Commit the writes of each event-loop turn together (group-commit.ts). Off by default: a
   * write then commits on its own, at once.
   */
  groupCommit?: boolean;
  /**
   * Take WAL checkpoints on a worker thread, so a COMMIT never waits for one (background-checkpoints.ts).
   * Off by default: SQLite then checkpoints from the COMMIT that fills the log.
   */
  checkpointInBackground?: boolean | BackgroundCheckpointOptions;
}

export class SqliteDatabase implements SqlDatabase {
  readonly dialect = 'sqlite' as const;
  readonly location: string;
  /** The better-sqlite3 handle, for what only SQLite has (backups, pragmas, the migration copy). */
  readonly handle: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  /** Settles when the open transaction ends; null when none is open. */
  #transaction: Promise<void> | null = null;
  readonly #direct: SqlExecutor;
  readonly #writes: GroupCommit | undefined;
  /** The checkpointing worker, when checkpoints are taken in the background. */
  readonly checkpoints: BackgroundCheckpoints | undefined;

  constructor(file: string, options: SqliteOptions = {}) {
    if (file !== ':memory:') restrictDatabaseFiles(file);
    this.location = file;
    this.handle = new Database(file);
    try {
      // Takes effect only while the database has no table yet (a new file); a no-op on one created
      // before (see the header).
      this.handle.pragma('auto_vacuum = INCREMENTAL');
      this.handle.pragma('journal_mode = WAL');
      this.handle.pragma('synchronous = NORMAL');
      this.handle.pragma('foreign_keys = ON');
      this.handle.pragma('busy_timeout = 5000');
    } catch (err) {
      // Opening succeeds on any file; SQLite reads it at the first statement (a file that is not
      // a database fails here). Whoever catches this cannot close what it never got.
      this.handle.close();
      throw err;
    }
    this.#writes = options.groupCommit ? new GroupCommit(this.handle) : undefined;
    const background = options.checkpointInBackground;
    this.checkpoints = background && file !== ':memory:'
      ? new BackgroundCheckpoints(this.handle, background === true ? {} : background)
      : undefined;
    this.#direct = {
      dialect: 'sqlite',
      all: async (sql, params) => this.#all(sql, params),
      get: async (sql, params) => this.#get(sql, params),
      run: async (sql, params) => this.#run(sql, params),
    };
  }

  async all<Row>(sql: string, params?: SqlParams): Promise<Row[]> {
    while (this.#transaction) await this.#transactionEnd();
    return this.#all<Row>(sql, params);
  }

  async get<Row>(sql: string, params?: SqlParams): Promise<Row | undefined> {
    while (this.#transaction) await this.#transactionEnd();
    return this.#get<Row>(sql, params);
  }

  async run(sql: string, params?: SqlParams): Promise<SqlRunResult> {
    while (this.#transaction) await this.#transactionEnd();
    return this.#writes ? this.#writes.add(this.#prepare(sql), bind(params)) : this.#run(sql, params);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    while (this.#transaction) await this.#transactionEnd();
    let end!: () => void;
    this.#transaction = new Promise<void>((resolve) => (end = resolve));
    try {
      // Writes queued before the transaction began come before it.
      this.#writes?.commitNow();
      this.handle.exec('BEGIN IMMEDIATE');
      try {
        openTransactions += 1;
        let result: T;
        try {
          result = await insideTransaction.run(this, () => fn(this.#direct));
        } finally {
          openTransactions -= 1;
          if (openTransactions === 0) insideTransaction.disable();
        }
        this.handle.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.handle.inTransaction) this.handle.exec('ROLLBACK');
        throw err;
      }
    } finally {
      this.#transaction = null;
      end();
    }
  }

  /**
   * The open transaction's end, to wait for. Callers check again after it (another waiter may
   * have opened the next transaction first). Code running inside the open transaction that uses
   * the database instead of its `tx` would wait for itself for ever: it gets an error instead.
   */
  #transactionEnd(): Promise<void> {
    if (insideTransaction.getStore() === this) {
      throw new Error('a statement inside a transaction must use its tx: the database waits for the transaction to end');
    }
    return this.#transaction!;
  }

  /** Runs a script of several statements (migrations); no parameters. */
  exec(sql: string): void {
    this.#writes?.commitNow();
    this.handle.exec(sql);
  }

  async releaseFreePages(): Promise<number> {
    if (!this.handle.open || this.handle.pragma('auto_vacuum', { simple: true }) !== INCREMENTAL) return 0;
    const pageSize = this.handle.pragma('page_size', { simple: true }) as number;
    let released = 0;
    for (;;) {
      while (this.#transaction) await this.#transactionEnd();
      if (!this.handle.open) return released;
      const free = this.handle.pragma('freelist_count', { simple: true }) as number;
      if (free === 0) return released;
      // `exec`, not a prepared statement's `run`: that steps the pragma once, one page.
      this.#writes?.commitNow();
      this.handle.exec(`PRAGMA incremental_vacuum(${RELEASE_STEP_PAGES})`);
      released += Math.min(free, RELEASE_STEP_PAGES) * pageSize;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /**
   * Commits the queued writes first, so a clean stop loses none. The checkpointing worker closes
   * its connection before this one, so this one, the last, folds the WAL into the file and
   * removes it, as SQLite does at the last close.
   */
  async close(): Promise<void> {
    while (this.#transaction) await this.#transactionEnd();
    if (!this.handle.open) return;
    await this.checkpoints?.stop();
    while (this.#transaction) await this.#transactionEnd();
    if (!this.handle.open) return;
    this.#writes?.commitNow();
    this.handle.close();
  }

  #prepare(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      if (this.#statements.size >= MAX_CACHED_STATEMENTS) this.#statements.clear();
      statement = this.handle.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #all<Row>(sql: string, params?: SqlParams): Row[] {
    return this.#reading(sql).all(...bind(params)) as Row[];
  }

  #get<Row>(sql: string, params?: SqlParams): Row | undefined {
    return this.#reading(sql).get(...bind(params)) as Row | undefined;
  }

  /**
   * The statement for `get`/`all`. One that writes (RETURNING) runs at once, so the writes queued
   * before it are committed first: writes keep the order they were issued in.
   */
  #reading(sql: string): Database.Statement {
    const statement = this.#prepare(sql);
    if (!statement.readonly && this.#writes?.pending) this.#writes.commitNow();
    return statement;
  }

  #run(sql: string, params?: SqlParams): SqlRunResult {
    return { changes: this.#prepare(sql).run(...bind(params)).changes };
  }
}

/**
 * Applies every migration in `dir` not yet recorded in `schema_migrations`; returns the names
 * applied now. Numbered, forward-only `.sql` files; each runs in its own transaction together
 * with its row, so a failed migration leaves nothing half-applied.
 */
export function migrateSqlite(db: SqliteDatabase, dir: string, clock: () => number = Date.now): string[] {
  const handle = db.handle;
  handle.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version TEXT PRIMARY KEY,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const applied = new Set(handle.prepare('SELECT version FROM schema_migrations').pluck().all() as string[]);
  const files = migrationFiles(dir);
  refuseNewerSchema(`the database ${db.location}`, applied, files);
  const record = handle.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
  const ran: string[] = [];
  for (const file of files) {
    if (applied.has(file)) continue;
    const sql = readFileSync(join(dir, file), 'utf8');
    handle.transaction(() => {
      handle.exec(sql);
      record.run(file, clock());
    })();
    ran.push(file);
  }
  return ran;
}

/** The migration files in `dir`, in the order they apply (`NNN_name.sql`). */
export function migrationFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => /^\d{3,}_[a-z0-9_-]+\.sql$/.test(f)).sort();
}
