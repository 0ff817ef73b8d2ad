/**
 * Opens an app's SQLite database and brings its schema up to date.
 *
 * - WAL journal, `synchronous=NORMAL` (durable across process crashes; a power loss may drop the
 *   last transactions but never corrupts the file), foreign keys on, a busy timeout so a second
 *   process (the CLI) waits instead of failing.
 * - Migrations are numbered, forward-only `.sql` files. Each runs in its own transaction together
 *   with its row in `schema_migrations`, so a failed migration leaves nothing half-applied.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { PROJECT_ROOT } from './project-root.ts';

export type Db = Database.Database;

export const MIGRATIONS_ROOT = join(PROJECT_ROOT, 'migrations');

export function openDatabase(file: string): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
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
