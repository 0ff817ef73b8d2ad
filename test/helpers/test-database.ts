/**
 * Which database a test's servers run on. Storage-facing suites run once per backend:
 *
 *   for (const backend of TEST_BACKENDS) describe(`users (${backend})`, () => { … });
 *
 * SQLite: a file in the test's temp dir. PostgreSQL: a fresh database in the cluster that
 * scripts/run-tests.mjs started (GATEHOUSE_TEST_POSTGRES_URL), or, for a test file run on its
 * own, in a cluster this process starts and kills when it exits.
 * GATEHOUSE_TEST_BACKENDS=sqlite limits the run to SQLite (a machine without PostgreSQL).
 */
import { createDatabaseAt, startPostgresCluster } from '../../scripts/postgres-cluster.mjs';
import type { DatabaseSettings } from '../../apps/shared/storage/open-database.ts';

export type TestBackend = 'sqlite' | 'postgres';

export const TEST_BACKENDS: TestBackend[] = (process.env.GATEHOUSE_TEST_BACKENDS ?? 'sqlite,postgres')
  .split(',').filter((name): name is TestBackend => name === 'sqlite' || name === 'postgres');

let ownCluster: Promise<string> | undefined;

/** The superuser URL of the test cluster. */
function adminUrl(): Promise<string> {
  const shared = process.env.GATEHOUSE_TEST_POSTGRES_URL;
  if (shared) return Promise.resolve(shared);
  return (ownCluster ??= startPostgresCluster({ unref: true }).then((cluster) => cluster.url));
}

/** A URL of a new, empty PostgreSQL database for one test; `locale` as createDatabaseAt's. */
export async function createTestPostgresDatabase(options: { locale?: string } = {}): Promise<string> {
  return createDatabaseAt(await adminUrl(), undefined, options);
}

/** Database settings for an app under test: `sqliteFile` on SQLite, a new database on PostgreSQL. */
export async function testDatabaseSettings(backend: TestBackend, sqliteFile: string, postgresUrl?: string): Promise<DatabaseSettings> {
  if (backend === 'sqlite') return { sqliteFile };
  return { sqliteFile, postgres: { url: postgresUrl ?? await createTestPostgresDatabase(), maxConnections: 5 } };
}
