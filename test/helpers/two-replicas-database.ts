/**
 * One auth-server database opened twice, as two replicas open it: two connections (two SQLite
 * handles on one file, or two PostgreSQL pools on one database), each migrated at open, so a
 * store built on each sees only what the other committed. For the stores' own tests; a test of
 * whole servers uses startAuthServer({ databaseUrl }) twice instead.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { testDatabaseSettings, type TestBackend } from './test-database.ts';

export interface TwoReplicas {
  first: SqlDatabase;
  second: SqlDatabase;
  close(): Promise<void>;
}

export async function openTwoReplicas(backend: TestBackend): Promise<TwoReplicas> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-replicas-'));
  const settings = await testDatabaseSettings(backend, join(dir, 'auth.db'));
  // Both at once, as replicas starting together migrate (under the advisory lock on PostgreSQL).
  const [first, second] = await Promise.all([openDatabase(settings, 'auth-server'), openDatabase(settings, 'auth-server')]);
  return {
    first,
    second,
    async close() {
      await first.close();
      await second.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
