/**
 * Copies the apps' SQLite databases into their PostgreSQL schemas (`gatehouse migrate-to-postgres`).
 *
 * - Both sides must be at the latest migration of their backend: the caller migrates them first.
 *   Every SQLite table then has a PostgreSQL counterpart with at least its columns; a column
 *   missing on the PostgreSQL side stops the copy (nothing would be silently dropped).
 * - Refuses a target that already holds data, apart from rows its own migrations seeded
 *   (`SEEDED`), which the source's rows replace: the revocation feed keeps its id, so resource
 *   servers following it do not start over.
 * - One transaction for both apps: the counts of every table are compared inside it, before the
 *   commit, so a copy either lands complete and verified or not at all. One per app left the
 *   auth-server's tables in place when the resource server's copy failed (a lost connection, a
 *   kill), and every later run was refused for a target holding data.
 * - Each source is read in one read transaction, so its tables come from one consistent snapshot.
 *   Stop the apps first all the same: what they write after the snapshot is not copied.
 * - Identity columns (audit ids, revocation seqs, tool-call ids) keep their values, and their
 *   sequences continue after the largest value SQLite ever gave (`sqlite_sequence`, rows since
 *   deleted included): the revocation feed's position is that value, and a follower that had read
 *   up to it would have skipped the first revocations made on PostgreSQL had it gone back.
 * - What PostgreSQL cannot hold as SQLite holds it is found before anything is written, and named
 *   with what to do (`findUnholdableText`, `findFoldedUsernames`): text with U+0000 (NUL), and
 *   usernames that only differ in the case of a letter SQLite does not fold (SQLite's NOCASE and
 *   lower() fold ASCII only; PostgreSQL's lower() folds by the database's locale).
 * - A row PostgreSQL refuses all the same is named by its table, in one line.
 */
import pg from 'pg';
import type { PostgresDatabase } from './postgres-database.ts';
import type { SqlExecutor, SqlValue } from './sql-database.ts';
import type { SqliteDatabase } from './sqlite-database.ts';

/** One-row tables a migration fills in: replaced by the source's rows. */
const SEEDED = new Set(['revocation_feed']);
/** Tables referenced by foreign keys are copied before the others. */
const FIRST = ['users'];
const BATCH_ROWS = 200;

export interface CopiedTable {
  table: string;
  rows: number;
}

export class MigrationCopyError extends Error {}

/** Where SQLite holds text with U+0000, which PostgreSQL's text types refuse. */
export interface UnholdableText {
  table: string;
  column: string;
  rows: number;
}

/** Every text column holding U+0000, with how many rows. Reads only SQLite, each table once. */
export function findUnholdableText(source: SqliteDatabase): UnholdableText[] {
  const found: UnholdableText[] = [];
  for (const table of sqliteTables(source)) {
    const columns = sqliteColumns(source, table);
    const counts = columns.map((column) => `coalesce(sum(typeof("${column}") = 'text' AND instr("${column}", char(0)) > 0), 0)`);
    const rows = source.handle.prepare(`SELECT ${counts.join(', ')} FROM "${table}"`).raw().get() as number[];
    columns.forEach((column, i) => {
      if (rows[i]! > 0) found.push({ table, column, rows: rows[i]! });
    });
  }
  return found;
}

/**
 * Usernames of `source` that PostgreSQL's `lower()` (the target's, by its locale) makes one: its
 * unique index on lower(username) would refuse the second. Groups of two or more names; reads
 * only, writes nothing to the target.
 */
export async function findFoldedUsernames(source: SqliteDatabase, target: SqlExecutor): Promise<string[][]> {
  const names = source.handle.prepare('SELECT username FROM users ORDER BY username').pluck().all() as string[];
  const byFolded = new Map<string, string[]>();
  for (let at = 0; at < names.length; at += BATCH_ROWS) {
    const batch = names.slice(at, at + BATCH_ROWS);
    const folded = await target.all<{ name: string; folded: string }>(
      `SELECT name, lower(name) AS folded FROM (VALUES ${batch.map(() => '(?)').join(', ')}) AS names (name)`,
      batch,
    );
    for (const { name, folded: key } of folded) byFolded.set(key, [...(byFolded.get(key) ?? []), name]);
  }
  return [...byFolded.values()].filter((group) => group.length > 1);
}

function sqliteTables(source: SqliteDatabase): string[] {
  const names = source.handle.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'").pluck().all() as string[];
  return names.sort((a, b) => {
    const rank = (name: string) => (FIRST.includes(name) ? FIRST.indexOf(name) : FIRST.length);
    return rank(a) - rank(b) || a.localeCompare(b);
  });
}

function sqliteColumns(source: SqliteDatabase, table: string): string[] {
  return (source.handle.prepare(`PRAGMA table_info("${table}")`).all() as Array<{ name: string }>).map((c) => c.name);
}

/** The largest value SQLite's AUTOINCREMENT ever gave in `table`, deleted rows included; 0 if none. */
function sqliteSequence(source: SqliteDatabase, table: string): number {
  const kept = source.handle.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'").get();
  if (!kept) return 0;
  return Number(source.handle.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').pluck().get(table) ?? 0);
}

async function targetColumns(tx: SqlExecutor, table: string): Promise<Map<string, { identity: boolean }>> {
  const rows = await tx.all<{ column_name: string; is_identity: string }>(
    'SELECT column_name, is_identity FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?',
    [table],
  );
  return new Map(rows.map((row) => [row.column_name, { identity: row.is_identity === 'YES' }]));
}

async function copyTable(source: SqliteDatabase, tx: SqlExecutor, table: string): Promise<number> {
  const target = await targetColumns(tx, table);
  if (target.size === 0) throw new MigrationCopyError(`table ${table} has no counterpart in PostgreSQL`);
  const columns = sqliteColumns(source, table);
  const missing = columns.filter((name) => !target.has(name));
  if (missing.length > 0) throw new MigrationCopyError(`table ${table}: PostgreSQL has no column ${missing.join(', ')}`);

  const existing = (await tx.get<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))!.n;
  if (existing > 0) {
    if (!SEEDED.has(table)) throw new MigrationCopyError(`table ${table} in PostgreSQL already holds ${existing} rows: migrate into an empty database`);
    await tx.run(`DELETE FROM ${table}`);
  }

  const list = columns.join(', ');
  const row = `(${columns.map(() => '?').join(', ')})`;
  let copied = 0;
  let batch: SqlValue[] = [];
  const flush = async () => {
    const rows = batch.length / columns.length;
    if (rows === 0) return;
    try {
      await tx.run(`INSERT INTO ${table} (${list}) VALUES ${Array.from({ length: rows }, () => row).join(', ')}`, batch);
    } catch (err) {
      // PostgreSQL refusing a row (a constraint, a trigger): one line naming the table. A lost
      // connection has no SQLSTATE and stays what it is.
      if (!(err instanceof pg.DatabaseError)) throw err;
      throw new MigrationCopyError(`table ${table}: PostgreSQL refused a row: ${err.message}${err.detail ? ` (${err.detail})` : ''}`);
    }
    copied += rows;
    batch = [];
  };
  for (const values of source.handle.prepare(`SELECT ${list} FROM "${table}"`).raw().iterate() as Iterable<SqlValue[]>) {
    batch.push(...values);
    if (batch.length >= BATCH_ROWS * columns.length) await flush();
  }
  await flush();

  const given = sqliteSequence(source, table);
  for (const [column, { identity }] of target) {
    if (!identity) continue;
    const largest = Number((await tx.get<{ n: number | string | null }>(`SELECT max(${column}) AS n FROM ${table}`))!.n ?? 0);
    const last = Math.max(largest, given);
    if (last > 0) await tx.get('SELECT setval(pg_get_serial_sequence(?, ?), ?)', [table, column, last]);
  }
  const count = (await tx.get<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))!.n;
  const expected = (source.handle.prepare(`SELECT count(*) FROM "${table}"`).pluck().get() as number);
  if (count !== expected) throw new MigrationCopyError(`table ${table}: ${count} rows in PostgreSQL after the copy, ${expected} in SQLite`);
  return copied;
}

/** Copies every table of each of `sources` into `target` in one transaction; returns the rows per table, per source. */
export async function copySqliteToPostgres(sources: readonly SqliteDatabase[], target: PostgresDatabase): Promise<CopiedTable[][]> {
  const reading: SqliteDatabase[] = [];
  try {
    // Read transactions: every table of a source is read from one snapshot, even if something writes meanwhile.
    for (const source of sources) {
      source.handle.exec('BEGIN');
      reading.push(source);
    }
    return await target.transaction(async (tx) => {
      const copied: CopiedTable[][] = [];
      for (const source of sources) {
        const tables: CopiedTable[] = [];
        for (const table of sqliteTables(source)) tables.push({ table, rows: await copyTable(source, tx, table) });
        copied.push(tables);
      }
      return copied;
    });
  } finally {
    for (const source of reading) source.handle.exec('COMMIT');
  }
}
