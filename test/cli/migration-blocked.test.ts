/**
 * The CLI when a PostgreSQL migration it applies before its command (as the server does at start)
 * cannot lock a table another session holds: the migration's own line, which names it and how to
 * find that session, ending in running the command again; not wrapped in "cannot open the
 * database", and not "start again" (an app's start). Exit 1, no stack. Once that session has
 * ended, the same command applies the migration and runs.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { cannotOpenDatabase, migrationBlocked } from '../../apps/auth-server/src/cli/cli-errors.ts';
import { MigrationBlockedError } from '../../apps/shared/storage/migration-blocked-error.ts';
import { migrationsDir } from '../../apps/shared/storage/open-database.ts';
import { migratePostgres } from '../../apps/shared/storage/migrate-postgres.ts';
import { PostgresDatabase } from '../../apps/shared/storage/postgres-database.ts';
import { startPgDumpHoldingLocks } from '../helpers/pg-dump-holding-locks.ts';
import { TEST_KEY_ENCRYPTION_KEY } from '../helpers/start-auth-server.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';
import { makeCliDir, runCli, spawnCli } from './support/cli-runner.ts';

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('gatehouse when a migration cannot lock a table', { skip: !TEST_BACKENDS.includes('postgres') && 'PostgreSQL is not among GATEHOUSE_TEST_BACKENDS' }, () => {
  let dir: string;

  before(() => {
    dir = makeCliDir('gatehouse-cli-migration-blocked-');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('the line it prints is the migration\'s own, ending in running the command again', async () => {
    const url = await createTestPostgresDatabase();
    const migrations = mkdtempSync(join(dir, 'widget-migrations-'));
    writeFileSync(join(migrations, '001_widgets.sql'), 'CREATE TABLE widgets (id INTEGER PRIMARY KEY);');
    const db = new PostgresDatabase({ url });
    const holder = new pg.Client({ connectionString: url });
    try {
      await migratePostgres(db, 'widget-app', migrations);
      writeFileSync(join(migrations, '002_widget_colour.sql'), 'ALTER TABLE widgets ADD COLUMN colour TEXT;');
      await holder.connect();
      await holder.query('BEGIN');
      await holder.query('SELECT count(*) FROM widgets');
      const err = await migratePostgres(db, 'widget-app', migrations, { lockTimeoutMs: 100, attempts: 2, sleep: async () => {} }).catch((failure: unknown) => failure);
      assert.ok(err instanceof MigrationBlockedError, String(err));

      for (const line of [cannotOpenDatabase(`PostgreSQL at ${db.location}`, err).message, migrationBlocked(err).message]) {
        assert.equal(line, err.describe('run this command again'));
        assert.match(line, /^migration 002_widget_colour\.sql of widget-app needs a lock on a table that another session held through 2 attempts of 100 ms each \(lock_timeout\), so nothing of it was applied[.;] [^\n]*, then run this command again$/);
        assert.doesNotMatch(line, /cannot open|start again/);
      }
    } finally {
      await holder.end();
      await db.close();
    }
  });

  test('the binary: a pg_dump holding the table a migration alters; one line, exit 1; once the dump ends the same command applies it', { timeout: 120_000 }, async () => {
    // The newer version's migration (ALTER TABLE users) is the only one left to apply.
    const blocked = '021_first_admin.sql';
    const url = await createTestPostgresDatabase();
    const older = mkdtempSync(join(dir, 'older-migrations-'));
    for (const file of readdirSync(migrationsDir('postgres', 'auth-server')).filter((name) => name !== blocked)) {
      copyFileSync(join(migrationsDir('postgres', 'auth-server'), file), join(older, file));
    }
    const db = new PostgresDatabase({ url });
    try {
      await migratePostgres(db, 'auth-server', older);
    } finally {
      await db.close();
    }
    const env = { DATABASE_URL: url, GATEHOUSE_KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY };
    const dump = await startPgDumpHoldingLocks(url, 'users');
    let result;
    try {
      // The default waits: 5 attempts of 2 s, 1 + 2 + 4 + 8 s apart (the binary takes no others).
      result = await spawnCli(dir, ['users', 'list'], { env });
    } finally {
      await dump.stop();
    }
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, new RegExp(`^gatehouse: migration ${escape(blocked)} of auth-server needs a lock on a table that another session held through 5 attempts of 2000 ms each \\(lock_timeout\\), so nothing of it was applied; `
      + `locks on its schema's tables held by pid ${dump.pid} \\(pg_dump, [a-z ]+, transaction open \\d+ s\\)\\. [^\\n]*, then run this command again\\n$`));

    const again = await runCli(dir, ['--json', 'users', 'list'], '', env);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), []);
  });
});
