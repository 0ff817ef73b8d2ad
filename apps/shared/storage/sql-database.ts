/**
 * The one interface every store talks to, whichever database is behind it: SQLite (embedded,
 * the default) or PostgreSQL (`DATABASE_URL`, for replicas).
 *
 * - SQL is written once, in the subset both engines share, with `?` placeholders (values in an
 *   array, in order) or `@name` placeholders (values in an object). The PostgreSQL backend turns
 *   either into `$1, $2, …`; SQLite takes them as they are.
 * - Values: strings, numbers (integers up to 2^53: times are epoch ms or s), Buffers, null.
 *   `true`/`false` are stored as 1/0 and `undefined` as NULL, on both. Flags come back as 0/1,
 *   BIGINT and NUMERIC come back as numbers on both.
 * - Where the engines differ (case-insensitive LIKE, identity columns), a store branches on
 *   `dialect`; schemas differ only in their migration files (migrations/<dialect>/<app>/).
 * - Every call is asynchronous, so a store reads the same on both backends. On SQLite the
 *   statement itself still runs at once on the main thread.
 */
export type SqlValue = string | number | bigint | boolean | Buffer | null | undefined;
/** Positional values for `?`, or named values for `@name` (keys without the `@`). */
export type SqlParams = readonly SqlValue[] | Readonly<Record<string, SqlValue>>;

export type SqlDialect = 'sqlite' | 'postgres';

export interface SqlRunResult {
  /** Rows inserted, updated or deleted. */
  changes: number;
}

export interface SqlExecutor {
  readonly dialect: SqlDialect;
  /** Every row the statement returns. */
  all<Row = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<Row[]>;
  /** The first row, or undefined. */
  get<Row = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<Row | undefined>;
  /** A statement that returns no rows (use `all`/`get` with RETURNING for those that do). */
  run(sql: string, params?: SqlParams): Promise<SqlRunResult>;
}

export interface SqlDatabase extends SqlExecutor {
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws (the
   * error is rethrown). Statements must go through `tx`, not the database: on SQLite, other
   * statements wait until the transaction ends; on PostgreSQL they run on another connection.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Where the data is, for logs: a file path, or the URL without its password. */
  readonly location: string;
  /**
   * Gives back to the file system the space deleted rows left free, for the sweepers to call after
   * their deletes; returns the bytes released. SQLite: the free pages of a database created with
   * incremental auto-vacuum (sqlite-database.ts); 0 for one created before. PostgreSQL: 0, as its
   * autovacuum keeps freed space for the next rows (a file shrinks only with VACUUM FULL).
   */
  releaseFreePages(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Whether `err` is a unique index refusing a row: SQLite's SQLITE_CONSTRAINT_UNIQUE (and the
 * primary key's SQLITE_CONSTRAINT_PRIMARYKEY), PostgreSQL's unique_violation (23505).
 */
export function isUniqueViolation(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}
