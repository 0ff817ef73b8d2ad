/**
 * Opens an app's database and brings its schema up to date: PostgreSQL when a database URL is
 * configured (`DATABASE_URL` / `database.url`), otherwise the app's SQLite file in `DATA_DIR`.
 * Migrations live in `migrations/<dialect>/<app>/`.
 */
import { join } from 'node:path';
import { PROJECT_ROOT } from '../project-root.ts';
import { migratePostgres } from './migrate-postgres.ts';
import { PostgresDatabase, type PostgresOptions } from './postgres-database.ts';
import type { SqlDatabase } from './sql-database.ts';
import { migrateSqlite, SqliteDatabase, type SqliteOptions } from './sqlite-database.ts';

export type AppName = 'auth-server' | 'resource-server';

export const MIGRATIONS_ROOT = join(PROJECT_ROOT, 'migrations');

export interface DatabaseSettings {
  /** Set: PostgreSQL, shared by every replica of both apps. */
  postgres?: PostgresOptions;
  /** The SQLite file used when `postgres` is not set. */
  sqliteFile: string;
}

export function migrationsDir(dialect: SqlDatabase['dialect'], app: AppName): string {
  return join(MIGRATIONS_ROOT, dialect, app);
}

/** `sqlite` applies only when the database is SQLite. */
export async function openDatabase(settings: DatabaseSettings, app: AppName, sqlite: SqliteOptions = {}): Promise<SqlDatabase> {
  if (settings.postgres) {
    const db = new PostgresDatabase(settings.postgres);
    try {
      await migratePostgres(db, app, migrationsDir('postgres', app));
    } catch (err) {
      await db.close();
      throw err;
    }
    return db;
  }
  const db = new SqliteDatabase(settings.sqliteFile, sqlite);
  try {
    migrateSqlite(db, migrationsDir('sqlite', app));
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}
