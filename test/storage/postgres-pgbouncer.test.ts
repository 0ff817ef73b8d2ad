/**
 * PostgreSQL behind PgBouncer in transaction mode, set up as the README says: both timeouts in
 * `ignore_startup_parameters` and kept on the role instead, prepared statements off (PgBouncer
 * before 1.21). Each transaction may run on another server connection, so a session-level lock
 * would not hold between statements.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { migrationsDir, openDatabase, type DatabaseSettings } from '../../apps/shared/storage/open-database.ts';
import { migrationFiles } from '../../apps/shared/storage/sqlite-database.ts';
import { freePort } from '../helpers/net.ts';
import { asNobody, canRunAsNobody } from '../helpers/run-as-nobody.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';
import { waitFor } from '../helpers/wait-for.ts';

const hasPgBouncer = spawnSync('pgbouncer', ['--version']).status === 0;
const skip = (!TEST_BACKENDS.includes('postgres') && 'PostgreSQL is not among GATEHOUSE_TEST_BACKENDS')
  || (!hasPgBouncer && 'pgbouncer is not installed')
  // PgBouncer refuses to run as root.
  || (!canRunAsNobody && 'cannot run PgBouncer as nobody here');

describe('behind PgBouncer in transaction mode', { skip }, () => {
  let dir: string;
  let bouncer: ChildProcess;
  let port: number;

  /** A fresh database, reached through PgBouncer. */
  async function throughBouncer(): Promise<{ direct: string; pooled: string }> {
    const direct = await createTestPostgresDatabase();
    const pooled = new URL(direct);
    pooled.port = String(port);
    return { direct, pooled: pooled.toString() };
  }

  before(async () => {
    const cluster = new URL(await createTestPostgresDatabase());
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-pgbouncer-'));
    chmodSync(dir, 0o777);
    writeFileSync(join(dir, 'users.txt'), `"${cluster.username}" ""\n`);
    writeFileSync(join(dir, 'pgbouncer.ini'), `[databases]
* = host=127.0.0.1 port=${cluster.port}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${join(dir, 'users.txt')}
pool_mode = transaction
default_pool_size = 4
ignore_startup_parameters = statement_timeout,idle_in_transaction_session_timeout
`);
    bouncer = spawn(...asNobody('pgbouncer', [join(dir, 'pgbouncer.ini')]), { stdio: 'ignore' });
    await waitFor('PgBouncer listening', async () => {
      const client = new pg.Client({ connectionString: `postgres://${cluster.username}@127.0.0.1:${port}/postgres` });
      try {
        await client.connect();
        return true;
      } catch {
        return false;
      } finally {
        await client.end().catch(() => {});
      }
    });
  });
  after(() => {
    bouncer?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('replicas of both apps starting together all start, apply each migration once, and leave no lock held', async () => {
    const { direct, pooled } = await throughBouncer();
    const settings: DatabaseSettings = { sqliteFile: '/nonexistent', postgres: { url: pooled, preparedStatements: false } };
    const apps = ['auth-server', 'auth-server', 'resource-server', 'resource-server'] as const;
    const replicas = await Promise.all(apps.map((app) => openDatabase(settings, app)));
    await Promise.all(replicas.map((db) => db.close()));

    const client = new pg.Client({ connectionString: direct });
    await client.connect();
    try {
      const { rows } = await client.query<{ app: string; n: number }>('SELECT app, count(*)::int AS n FROM schema_migrations GROUP BY app ORDER BY app');
      const expected = ['auth-server', 'resource-server'] as const;
      assert.deepEqual(rows, expected.map((app) => ({ app, n: migrationFiles(migrationsDir('postgres', app)).length })));
      const held = await client.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
      assert.equal(held.rowCount, 0, 'no advisory lock outlives the migrations');
    } finally {
      await client.end();
    }
  });

  test('the timeouts set on the role still cancel a statement', async () => {
    const { direct, pooled } = await throughBouncer();
    const client = new pg.Client({ connectionString: direct });
    await client.connect();
    try {
      const database = new URL(direct).pathname.slice(1);
      await client.query(`ALTER ROLE CURRENT_USER IN DATABASE "${database}" SET statement_timeout = '500ms'`);
    } finally {
      await client.end();
    }
    const db = await openDatabase({ sqliteFile: '/nonexistent', postgres: { url: pooled, preparedStatements: false } }, 'resource-server');
    try {
      await assert.rejects(db.get('SELECT pg_sleep(2)'), /statement timeout/);
    } finally {
      await db.close();
    }
  });
});
