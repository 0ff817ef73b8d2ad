/**
 * The auth-server's database for a store test, migrated as the server would: a SQLite file in a
 * temp dir, or a new PostgreSQL database in the test cluster. `reopen()` opens a second handle on
 * the same database, as another replica (or the CLI) would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { testDatabaseSettings, type TestBackend } from './test-database.ts';

export interface TestAuthDatabase {
  db: SqlDatabase;
  /** Another connection (pool) to the same database. */
  reopen(): Promise<SqlDatabase>;
  close(): Promise<void>;
}

export async function openAuthDatabase(backend: TestBackend): Promise<TestAuthDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-auth-db-'));
  const settings = await testDatabaseSettings(backend, join(dir, 'auth-server.db'));
  const opened: SqlDatabase[] = [await openDatabase(settings, 'auth-server')];
  return {
    db: opened[0]!,
    async reopen() {
      const another = await openDatabase(settings, 'auth-server');
      opened.push(another);
      return another;
    },
    async close() {
      for (const db of opened) await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
