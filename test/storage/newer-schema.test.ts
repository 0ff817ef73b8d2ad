/**
 * Migrations only go forward (README § Upgrading): a database that a newer Gatehouse has migrated
 * holds rows this version may misread, so this version refuses to start on it, the servers and the
 * CLI alike, and leaves it as it was.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError } from '../../apps/shared/config/config-error.ts';
import { migrationsDir, openDatabase } from '../../apps/shared/storage/open-database.ts';
import { migratePostgres } from '../../apps/shared/storage/migrate-postgres.ts';
import { PostgresDatabase } from '../../apps/shared/storage/postgres-database.ts';
import { migrateSqlite, migrationFiles, SqliteDatabase } from '../../apps/shared/storage/sqlite-database.ts';
import { makeCliDir, runCli } from '../cli/support/cli-runner.ts';
import { TEST_BACKENDS, testDatabaseSettings } from '../helpers/test-database.ts';

const FUTURE = '999_from_a_newer_version.sql';
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-newer-schema-'));
after(() => rmSync(dir, { recursive: true, force: true }));

for (const backend of TEST_BACKENDS) describe(`a database upgraded by a newer Gatehouse (${backend})`, () => {
  test('is refused with one line that names the migration and the way back, and nothing is written to it', async () => {
    const settings = await testDatabaseSettings(backend, join(dir, `${backend}-auth-server.db`));
    const upgraded = await openDatabase(settings, 'auth-server');
    await upgraded.run(`INSERT INTO schema_migrations (${backend === 'postgres' ? 'app, ' : ''}version, applied_at) VALUES (${backend === 'postgres' ? "'auth-server', " : ''}?, ?)`, [FUTURE, Date.now()]);
    const before = await upgraded.all('SELECT * FROM schema_migrations ORDER BY version');
    await upgraded.close();

    await assert.rejects(openDatabase(settings, 'auth-server'), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, new RegExp(`was upgraded by a newer version of Gatehouse \\(it records migration ${FUTURE.replaceAll('.', '\\.')}, which this version does not have\\); run that version or a later one, or restore the backup taken before the upgrade`));
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });

    if (backend === 'postgres') {
      const resourceServer = await openDatabase(settings, 'resource-server');
      try {
        const rows = await resourceServer.all("SELECT * FROM schema_migrations WHERE app = 'auth-server' ORDER BY version");
        assert.deepEqual(rows, before.filter((row) => (row as { app: string }).app === 'auth-server'), 'the auth-server rows are as they were');
      } finally {
        await resourceServer.close();
      }
    } else {
      const reopened = new SqliteDatabase(settings.sqliteFile);
      try {
        assert.deepEqual(await reopened.all('SELECT * FROM schema_migrations ORDER BY version'), before, 'the rows are as they were');
      } finally {
        await reopened.close();
      }
    }
  });

  test('a database this version is newer than is migrated forward, and one at this version opens as before', async () => {
    const settings = await testDatabaseSettings(backend, join(dir, `${backend}-current.db`));
    // The version before this one: every migration but the newest (whose SQL need not run twice).
    const all = migrationFiles(migrationsDir(backend, 'auth-server'));
    const older = mkdtempSync(join(dir, 'older-'));
    for (const file of all.slice(0, -1)) copyFileSync(join(migrationsDir(backend, 'auth-server'), file), join(older, file));
    if (settings.postgres) {
      const db = new PostgresDatabase(settings.postgres);
      await migratePostgres(db, 'auth-server', older).finally(() => db.close());
    } else {
      const db = new SqliteDatabase(settings.sqliteFile);
      migrateSqlite(db, older);
      await db.close();
    }
    const upgraded = await openDatabase(settings, 'auth-server');
    const versions = await upgraded.all<{ version: string }>(`SELECT version FROM schema_migrations${settings.postgres ? " WHERE app = 'auth-server'" : ''} ORDER BY version`);
    await upgraded.close();
    assert.deepEqual(versions.map((row) => row.version), all, 'the newest migration applied on top');
    const again = await openDatabase(settings, 'auth-server');
    await again.close();
  });
});

describe('the processes on such a database', () => {
  const data = makeCliDir('gatehouse-newer-schema-cli-');
  after(() => rmSync(data, { recursive: true, force: true }));
  const env = { DATA_DIR: join(data, 'data'), KEYS_DIR: join(data, 'keys') };

  test('the auth-server exits with code 2 and the one line; the CLI exits with 1 and says the same', async () => {
    const db = await openDatabase({ sqliteFile: join(env.DATA_DIR, 'auth-server.db') }, 'auth-server');
    await db.run('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)', [FUTURE, Date.now()]);
    await db.close();

    const server = spawnSync(process.execPath, ['--import', 'tsx', 'apps/auth-server/src/main.ts'], {
      env: { PATH: process.env.PATH, ...env, AUTH_PORT: '0' }, encoding: 'utf8', timeout: 30_000,
    });
    assert.equal(server.status, 2, server.stderr);
    const lines = server.stderr.split('\n').filter((line) => line && !line.startsWith('oidc-provider WARNING'));
    assert.equal(lines.length, 1, server.stderr);
    assert.match(lines[0]!, new RegExp(`^gatehouse auth-server: the database ${join(env.DATA_DIR, 'auth-server.db').replaceAll('.', '\\.')} was upgraded by a newer version of Gatehouse`));

    const cli = await runCli(data, ['users', 'list'], '', env);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /^gatehouse: the database \S+ was upgraded by a newer version of Gatehouse[^\n]*\n$/, 'its own one line, naming the database once');
    assert.equal(cli.stdout, '');
  });
});

describe('an upgrade whose migration fails (sqlite)', () => {
  test('the failed migration leaves nothing, those before it stay applied, and this version then refuses the database (README § Upgrading)', async () => {
    const migrations = join(dir, 'failing-upgrade');
    mkdirSync(migrations);
    writeFileSync(join(migrations, '001_first.sql'), 'CREATE TABLE first (x INTEGER);');
    writeFileSync(join(migrations, '002_fails.sql'), 'CREATE TABLE second (x INTEGER); INSERT INTO no_such_table VALUES (1);');
    const db = new SqliteDatabase(join(dir, 'failing-upgrade.db'));
    try {
      assert.throws(() => migrateSqlite(db, migrations), /no such table: no_such_table/);
      const tables = db.handle.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('first', 'second') ORDER BY name").pluck().all();
      assert.deepEqual(tables, ['first'], 'the failed migration was rolled back, the one before it was not');
      assert.deepEqual(db.handle.prepare('SELECT version FROM schema_migrations').pluck().all(), ['001_first.sql']);
      rmSync(join(migrations, '002_fails.sql'));
      rmSync(join(migrations, '001_first.sql'));
      assert.throws(() => migrateSqlite(db, migrations), /records migration 001_first\.sql, which this version does not have/, 'the version upgraded from refuses it');
    } finally {
      await db.close();
    }
  });
});
