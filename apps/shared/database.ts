/**
 * Transitional: the raw better-sqlite3 handle for stores not yet moved onto `SqlDatabase`
 * (apps/shared/storage). Goes away when the last store is converted.
 */
import type Database from 'better-sqlite3';
import type { SqlDatabase } from './storage/sql-database.ts';
import { SqliteDatabase } from './storage/sqlite-database.ts';

export type Db = Database.Database;

export function sqliteHandle(db: SqlDatabase): Db {
  if (!(db instanceof SqliteDatabase)) throw new Error('this part of Gatehouse does not run on PostgreSQL yet');
  return db.handle;
}
