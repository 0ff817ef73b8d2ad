/**
 * A consistent copy of a live SQLite database, for a backup: `VACUUM INTO` reads the source in
 * one read transaction, which in WAL mode neither waits for the app's writers nor holds them up.
 * SQLite's online backup (sqlite3's `.backup`, better-sqlite3's `backup()`) copies a few pages at
 * a time instead and starts over whenever another connection writes between two steps
 * (https://sqlite.org/backup.html): beside an auth-server that commits on almost every request it
 * took a minute, or never finished.
 *
 * The copy is made by `gatehouse backup` in a child process (cli/copy-in-child-process.ts), which
 * a stop signal can end mid-copy; this module checks first that the source can be read. The
 * target must not exist or be empty (SQLite refuses otherwise; an empty file made first gives the
 * copy its mode). The copy keeps the source's page size and auto_vacuum, in rollback-journal mode
 * until an app opens it (which sets WAL).
 */
import Database from 'better-sqlite3';

/**
 * Reads `sourceFile`'s schema, opened as the copy opens it (read-only: a backup never creates,
 * migrates or changes the database it copies), so what keeps it from being read fails before
 * a copy is begun, and is told apart from a copy that could not be written. Even to read a WAL
 * database, SQLite opens its -wal and -shm beside it, creating them when no app has it open: a
 * directory this user may not write in, or a read-only mount, fails here
 * (SQLITE_READONLY_DIRECTORY, SQLITE_CANTOPEN). Throws SQLite's error, whose `code` says which.
 */
export function checkReadable(sourceFile: string): void {
  const source = new Database(sourceFile, { readonly: true, fileMustExist: true });
  try {
    source.pragma('schema_version', { simple: true });
  } finally {
    source.close();
  }
}
