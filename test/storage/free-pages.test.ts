/**
 * Space deleted rows leave free goes back to the file system (sql-database.ts `releaseFreePages`):
 * a new SQLite database is made with incremental auto-vacuum, the sweepers release its free pages
 * after their deletes, and one made by an earlier version keeps working as it was. PostgreSQL
 * keeps freed space for later rows (its autovacuum), so there it releases nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteDatabase } from '../../apps/shared/storage/sqlite-database.ts';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import { createDatabaseAdapter } from '../../apps/auth-server/src/provider/database-adapter.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer } from '../helpers/test-issuer.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { TEST_BACKENDS, testDatabaseSettings } from '../helpers/test-database.ts';

const ROWS = 3000;
const ROW = 'x'.repeat(300);

interface Pages {
  pages: number;
  free: number;
}

function pagesOf(handle: Database.Database): Pages {
  return { pages: handle.pragma('page_count', { simple: true }) as number, free: handle.pragma('freelist_count', { simple: true }) as number };
}

/** ROWS rows of ROW into `table` (id, v), in one transaction. */
async function fillRows(db: SqliteDatabase, table: string): Promise<void> {
  await db.transaction(async (tx) => {
    for (let i = 0; i < ROWS; i += 1) await tx.run(`INSERT INTO ${table} (v) VALUES (?)`, [ROW]);
  });
}

/** The file's size once the WAL is folded into it. */
function fileSize(handle: Database.Database, file: string): number {
  handle.pragma('wal_checkpoint(TRUNCATE)');
  return statSync(file).size;
}

describe('free pages of a SQLite database', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'gatehouse-free-pages-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a new database gives the pages of deleted rows back: the file shrinks to what it held before', async () => {
    const file = join(dir, 'new.db');
    const db = new SqliteDatabase(file, { groupCommit: true });
    try {
      assert.equal(db.handle.pragma('auto_vacuum', { simple: true }), 2, 'incremental auto-vacuum');
      db.exec('CREATE TABLE kept (id INTEGER PRIMARY KEY, v TEXT NOT NULL); CREATE TABLE swept (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
      await db.run('INSERT INTO kept (v) VALUES (?)', ['still here']);
      const empty = fileSize(db.handle, file);
      await fillRows(db, 'swept');
      const full = fileSize(db.handle, file);
      assert.ok(full > empty + ROWS * ROW.length, `the rows take room (${empty} → ${full} bytes)`);

      await db.run('DELETE FROM swept');
      assert.ok(pagesOf(db.handle).free > 200, 'deleting leaves free pages');
      const released = await db.releaseFreePages();

      assert.equal(pagesOf(db.handle).free, 0, 'no free page is left');
      assert.ok(released >= ROWS * ROW.length, `released ${released} bytes`);
      const after = fileSize(db.handle, file);
      assert.ok(after <= empty + 4096, `the file is back to about its size before the rows (${empty} → ${full} → ${after} bytes)`);
      assert.deepEqual(await db.all('SELECT v FROM kept'), [{ v: 'still here' }], 'the other rows are intact');
      assert.equal(await db.releaseFreePages(), 0, 'nothing more to release');
    } finally {
      await db.close();
    }
    assert.equal(await db.releaseFreePages(), 0, 'a sweep that comes after the database closed releases nothing, and does not throw');
  });

  test('writes queued for the group commit when pages are released are all committed', async () => {
    const db = new SqliteDatabase(join(dir, 'queued.db'), { groupCommit: true });
    try {
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
      await fillRows(db, 't');
      await db.run('DELETE FROM t');
      const writes = Array.from({ length: 50 }, (_, i) => db.run('INSERT INTO t (v) VALUES (?)', [`queued ${i}`]));
      await db.releaseFreePages();
      await Promise.all(writes);
      assert.equal((await db.get<{ n: number }>('SELECT count(*) AS n FROM t'))?.n, 50);
      assert.equal(pagesOf(db.handle).free, 0);
    } finally {
      await db.close();
    }
  });

  test('a database an earlier version created keeps its free pages for later rows, and works as before', async () => {
    const file = join(dir, 'earlier.db');
    const earlier = new Database(file);
    earlier.pragma('journal_mode = WAL');
    earlier.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    earlier.close();

    const db = new SqliteDatabase(file, { groupCommit: true });
    try {
      assert.equal(db.handle.pragma('auto_vacuum', { simple: true }), 0, 'opening does not convert it');
      await fillRows(db, 't');
      await db.run('DELETE FROM t WHERE id > 1');
      const before = pagesOf(db.handle);
      assert.equal(await db.releaseFreePages(), 0);
      assert.deepEqual(pagesOf(db.handle), before, 'its pages are as they were');
      assert.equal((await db.get<{ n: number }>('SELECT count(*) AS n FROM t'))?.n, 1);
    } finally {
      await db.close();
    }
  });
});

if (TEST_BACKENDS.includes('postgres')) {
  test('PostgreSQL releases nothing: its autovacuum keeps freed space for later rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-free-pages-pg-'));
    const db = await openDatabase(await testDatabaseSettings('postgres', join(dir, 'unused.db')), 'auth-server');
    try {
      assert.equal(await db.releaseFreePages(), 0);
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

describe('the auth-server sweeper on SQLite', () => {
  let server: TestAuthServer;
  const clock = new TestClock();
  before(async () => (server = await startAuthServer({ backend: 'sqlite', clock })));
  after(() => server.close());

  test('once authorization codes expired, a sweep deletes them and gives their pages back', async () => {
    const database = server.auth.database as SqliteDatabase;
    const codes = new (createDatabaseAdapter(database, clock))('AuthorizationCode');
    const before = pagesOf(database.handle);
    for (let i = 0; i < ROWS; i += 1) {
      await codes.upsert(`code-${i}-${'c'.repeat(30)}`, { grantId: `grant-${i}`, codeChallenge: 'x'.repeat(43), codeChallengeMethod: 'S256', redirectUri: `http://127.0.0.1/callback/${i}`, scope: 'mcp:read', resource: ROW }, 60);
    }
    const full = pagesOf(database.handle);
    assert.ok(full.pages > before.pages + 200, `the codes take pages (${before.pages} → ${full.pages})`);

    clock.advance(61);
    await server.auth.sweep();

    const count = await database.get<{ n: number }>("SELECT count(*) AS n FROM oidc_models WHERE model = 'C'");
    assert.equal(count?.n, 0, 'the expired codes are deleted');
    const swept = pagesOf(database.handle);
    assert.equal(swept.free, 0, 'no free page is left in the file');
    assert.ok(swept.pages <= before.pages + 20, `the file is back to about its size before the codes (${before.pages} → ${full.pages} → ${swept.pages} pages)`);
  });
});

test('the resource server\'s sweep deletes tool calls past their retention and gives their pages back (SQLite)', async () => {
  const issuer = await startTestIssuer();
  const clock = new TestClock();
  const server = await startResourceServer({ issuer: issuer.issuer, clock });
  try {
    const database = server.db as SqliteDatabase;
    const before = pagesOf(database.handle);
    await database.transaction(async (tx) => {
      for (let i = 0; i < ROWS; i += 1) {
        await tx.run("INSERT INTO tool_calls (at, subject, client_id, tool, outcome) VALUES (?, ?, ?, ?, 'ok')", [clock.now(), `user-${i}`, ROW, 'whoami']);
      }
    });
    const full = pagesOf(database.handle);
    assert.ok(full.pages > before.pages + 200, `the calls take pages (${before.pages} → ${full.pages})`);

    clock.advance(server.config.auditRetention + 1);
    await server.sweep();

    assert.equal((await database.get<{ n: number }>('SELECT count(*) AS n FROM tool_calls'))?.n, 0, 'the old calls are deleted');
    const swept = pagesOf(database.handle);
    assert.equal(swept.free, 0, 'no free page is left in the file');
    assert.ok(swept.pages <= before.pages + 20, `the file is back to about its size before the calls (${before.pages} → ${full.pages} → ${swept.pages} pages)`);
  } finally {
    await server.close();
    await issuer.close();
  }
});
