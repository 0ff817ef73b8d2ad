/**
 * WAL checkpoints taken on a worker thread (apps/shared/storage/background-checkpoints.ts): the
 * auth server's commits no longer fold the log back into the database file themselves.
 *
 * What a checkpoint did is read off the database file alone: a copy of the file without its
 * `-wal` holds only what has been checkpointed into it.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { SQLITE_DEFAULT_AUTOCHECKPOINT } from '../../apps/shared/storage/background-checkpoints.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { SqliteDatabase } from '../../apps/shared/storage/sqlite-database.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { waitFor } from '../helpers/wait-for.ts';

const ROWS = 200;

describe('WAL checkpoints on a worker thread', () => {
  let dir: string;
  let file: string;
  let db: SqliteDatabase | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-checkpoints-'));
    file = join(dir, 'app.db');
  });
  afterEach(async () => {
    await db?.close();
    db = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  /** Rows the database file holds by itself, without its log (0 while the table is only in the log). */
  const rowsInFileAlone = (): number => {
    const copy = join(dir, `alone-${Math.random().toString(36).slice(2)}.db`);
    copyFileSync(file, copy);
    const alone = new Database(copy, { readonly: true });
    try {
      const table = alone.prepare("SELECT 1 FROM sqlite_schema WHERE name = 't'").get();
      return table ? (alone.prepare('SELECT count(*) FROM t').pluck().get() as number) : 0;
    } finally {
      alone.close();
      rmSync(copy, { force: true });
    }
  };

  const writeRows = async (database: SqliteDatabase) => {
    database.exec('CREATE TABLE t (n INTEGER PRIMARY KEY, filler TEXT)');
    // About 200 KB of log: far below the 1,000 pages at which a COMMIT would checkpoint by itself.
    await Promise.all(Array.from({ length: ROWS }, (_, n) => database.run('INSERT INTO t (n, filler) VALUES (?, ?)', [n, 'x'.repeat(900)])));
  };

  test('committed rows reach the database file without any COMMIT checkpointing', async () => {
    db = new SqliteDatabase(file, { groupCommit: true, checkpointInBackground: { intervalMs: 20 } });
    assert.equal(await db.checkpoints!.started, true, 'the worker opened the database');
    await writeRows(db);
    const rows = await waitFor('the worker to checkpoint the rows into the database file', () => rowsInFileAlone() === ROWS, 10_000, 20);
    assert.equal(rows, true);
  });

  test('without it, the same rows stay in the log until a COMMIT fills it (what the worker takes off the committing thread)', async () => {
    db = new SqliteDatabase(file, { groupCommit: true });
    await writeRows(db);
    assert.equal(rowsInFileAlone(), 0);
    assert.equal(db.handle.pragma('wal_autocheckpoint', { simple: true }), SQLITE_DEFAULT_AUTOCHECKPOINT);
  });

  test('the committing connection keeps its own checkpoint as a backstop, back at SQLite\'s default once the worker is gone', async () => {
    const exits: Array<Error | undefined> = [];
    db = new SqliteDatabase(file, { groupCommit: true, checkpointInBackground: { intervalMs: 60_000, backstopPages: 5000, onUnexpectedExit: (err) => exits.push(err) } });
    assert.equal(await db.checkpoints!.started, true);
    assert.equal(db.handle.pragma('wal_autocheckpoint', { simple: true }), 5000, 'far above the default while the worker checkpoints');

    // A worker that dies (here ended from outside while idle between checkpoints).
    await db.checkpoints!.worker.terminate();
    await waitFor('the worker to be known gone', () => !db!.checkpoints!.running);
    assert.equal(db.handle.pragma('wal_autocheckpoint', { simple: true }), SQLITE_DEFAULT_AUTOCHECKPOINT);
    assert.equal(exits.length, 1, 'its owner is told once');

    await writeRows(db);
    db.handle.pragma('wal_autocheckpoint = 1');
    await db.run('INSERT INTO t (n, filler) VALUES (?, ?)', [ROWS, 'last']);
    assert.equal(rowsInFileAlone(), ROWS + 1, 'the committing connection checkpoints by itself again');
  });

  test('closing ends the worker first, so the last connection folds the log into the file and removes it', async () => {
    let toldUnexpected = false;
    db = new SqliteDatabase(file, { groupCommit: true, checkpointInBackground: { intervalMs: 60_000, onUnexpectedExit: () => (toldUnexpected = true) } });
    assert.equal(await db.checkpoints!.started, true);
    await writeRows(db);
    const closing = db.run('INSERT INTO t (n, filler) VALUES (?, ?)', [ROWS, 'queued at close']);
    const checkpoints = db.checkpoints!;
    await db.close();
    db = undefined;
    await closing;
    assert.equal(checkpoints.running, false);
    assert.equal(toldUnexpected, false, 'an exit asked for is not reported as unexpected');
    assert.equal(existsSync(`${file}-wal`), false, 'the log is gone');
    assert.equal(rowsInFileAlone(), ROWS + 1, 'every row, the one queued at close too, is in the file');
  });
});

describe('the auth server takes its checkpoints on a worker thread', () => {
  let server: TestAuthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test('its SQLite database checkpoints in the background', async () => {
    server = await startAuthServer();
    const database = server.auth.database;
    assert.ok(database instanceof SqliteDatabase);
    assert.ok(database.checkpoints, 'a checkpointing worker');
    assert.equal(await database.checkpoints.started, true);
    assert.ok((database.handle.pragma('wal_autocheckpoint', { simple: true }) as number) > SQLITE_DEFAULT_AUTOCHECKPOINT);
  });

  test('a checkpoint thread that stops is logged, and commits take the checkpoints again', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    server = await startAuthServer({ logger: createLogger('auth-server', 'info', { write: (line: string) => void lines.push(JSON.parse(line)) }) });
    const database = server.auth.database as SqliteDatabase;
    assert.equal(await database.checkpoints!.started, true);
    await database.checkpoints!.worker.terminate();
    const line = await waitFor('the warning', () => lines.find((l) => /checkpoint thread stopped/.test(l.msg)));
    assert.equal(line.level, 40, 'at warn');
    assert.equal(database.handle.pragma('wal_autocheckpoint', { simple: true }), SQLITE_DEFAULT_AUTOCHECKPOINT);
  });
});
