/**
 * Only the owner may read the SQLite files: the data directory is created 0700, every database
 * file and its -wal and -shm are 0600, after a real start of both apps and after writes, and
 * files an earlier version left world-readable are tightened when opened.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteDatabase } from '../../apps/shared/storage/sqlite-database.ts';
import { CLAUDE_DCR_BODY, registerClient } from '../helpers/oauth-flow.ts';
import { freshSetup, kill, runApp, type RunningProcess } from './support/processes.ts';

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe('database file permissions', () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test('both apps create the data dir 0700 and their databases, -wal and -shm 0600 (real processes, after writes)', async () => {
    const setup = await freshSetup({ BOOTSTRAP_ADMIN_PASSWORD: 'correct horse battery staple' });
    dirs.push(setup.dir);
    let auth: RunningProcess | undefined;
    let resource: RunningProcess | undefined;
    try {
      auth = runApp('auth-server', setup.env);
      resource = runApp('resource-server', setup.env);
      await auth.waitForOutput(/Gatehouse is running/);
      await resource.waitForOutput(/Gatehouse is running/);
      // A write through the running auth-server (a registration is a row in oidc_models).
      await registerClient(setup.issuer, CLAUDE_DCR_BODY);

      const data = join(setup.dir, 'data');
      assert.equal(mode(data), '700');
      for (const db of ['auth-server.db', 'resource-server.db']) {
        for (const suffix of ['', '-wal', '-shm']) {
          assert.equal(mode(join(data, db + suffix)), '600', `${db}${suffix}`);
        }
      }
    } finally {
      auth?.signal('SIGTERM');
      resource?.signal('SIGTERM');
      await Promise.all([auth?.exited, resource?.exited]);
      kill(auth);
      kill(resource);
    }
  });

  test('tightens a database, -wal and -shm an earlier version left 0644', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-modes-'));
    dirs.push(dir);
    const file = join(dir, 'old.db');
    // The old way: SQLite's default 0644, and a connection still open so -wal and -shm exist.
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    for (const suffix of ['', '-wal', '-shm']) {
      chmodSync(file + suffix, 0o644);
      assert.equal(mode(file + suffix), '644');
    }

    const db = new SqliteDatabase(file).handle;
    try {
      db.prepare('INSERT INTO t VALUES (2)').run();
      for (const suffix of ['', '-wal', '-shm']) assert.equal(mode(file + suffix), '600', `old.db${suffix}`);
      assert.equal(db.prepare('SELECT count(*) FROM t').pluck().get(), 2);
    } finally {
      db.close();
      old.close();
    }
  });

  test('creates missing parent directories 0700 and leaves an existing directory as it is', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-modes-'));
    dirs.push(dir);
    const shared = join(dir, 'shared');
    mkdirSync(shared, { mode: 0o755 });
    chmodSync(shared, 0o755);
    const db = new SqliteDatabase(join(shared, 'new', 'deeper', 'app.db')).handle;
    db.close();
    assert.equal(mode(shared), '755', 'an existing directory may be shared: not changed');
    assert.equal(mode(join(shared, 'new')), '700');
    assert.equal(mode(join(shared, 'new', 'deeper')), '700');
    assert.equal(mode(join(shared, 'new', 'deeper', 'app.db')), '600');
  });
});
