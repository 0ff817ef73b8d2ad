/**
 * Opens an app's SQLite database and brings its schema up to date.
 *
 * - WAL journal, `synchronous=NORMAL` (durable across process crashes; a power loss may drop the
 *   last transactions but never corrupts the file), foreign keys on, a busy timeout so a second
 *   process (the CLI) waits instead of failing.
 * - Migrations are numbered, forward-only `.sql` files. Each runs in its own transaction together
 *   with its row in `schema_migrations`, so a failed migration leaves nothing half-applied.
 * - Only the owner may read the data: a directory this creates is 0700, and the database file and
 *   its `-wal` and `-shm` are 0600, tightened at every open when an earlier version (or a copy)
 *   left them looser. SQLite creates `-wal`/`-shm` with the mode of the database file (checked on
 *   Debian's build), so a 0600 file made before SQLite opens it keeps its companions 0600 too.
 *   Deliberately not done: tightening a directory that already exists (it may be shared, e.g. /tmp).
 */
import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { PROJECT_ROOT } from './project-root.ts';

export type Db = Database.Database;

export const MIGRATIONS_ROOT = join(PROJECT_ROOT, 'migrations');

const OWNER_ONLY_FILE = 0o600;
const OWNER_ONLY_DIR = 0o700;
const COMPANIONS = ['-wal', '-shm'] as const;

/** Makes the database file (creating it empty when missing) and existing companions owner-only. */
function restrictDatabaseFiles(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: OWNER_ONLY_DIR });
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
}

export function openDatabase(file: string): Db {
  if (file !== ':memory:') restrictDatabaseFiles(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return db;
}

/** Applies every migration in `dir` not yet recorded; returns the names applied now. */
export function migrate(db: Db, dir: string): string[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version TEXT PRIMARY KEY,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const applied = new Set(
    db.prepare('SELECT version FROM schema_migrations').pluck().all() as string[],
  );
  const files = readdirSync(dir).filter((f) => /^\d{3,}_[a-z0-9_-]+\.sql$/.test(f)).sort();
  const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
  const ran: string[] = [];
  for (const file of files) {
    if (applied.has(file)) continue;
    const sql = readFileSync(join(dir, file), 'utf8');
    db.transaction(() => {
      db.exec(sql);
      record.run(file, Date.now());
    })();
    ran.push(file);
  }
  return ran;
}
