/**
 * The storage seam both backends implement (apps/shared/storage): the same statements, values and
 * transaction rules on SQLite and on a real PostgreSQL, and migrations that replicas starting
 * together apply once.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import { SqliteDatabase } from '../../apps/shared/storage/sqlite-database.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { toPostgresPlaceholders } from '../../apps/shared/storage/to-postgres-placeholders.ts';
import { MIGRATION_LOCK, migratePostgres } from '../../apps/shared/storage/migrate-postgres.ts';
import { PostgresDatabase, redactDatabaseUrl } from '../../apps/shared/storage/postgres-database.ts';
import { DatabaseUnavailableError, databaseErrorReason } from '../../apps/shared/storage/database-unavailable-error.ts';
import { createTestPostgresDatabase, TEST_BACKENDS, testDatabaseSettings } from '../helpers/test-database.ts';

describe('placeholders for PostgreSQL', () => {
  const cases: Array<{ name: string; sql: string; params?: unknown; text?: string; values?: unknown[]; error?: RegExp }> = [
    { name: 'positional ? in order', sql: 'SELECT * FROM t WHERE a = ? AND b = ?', params: ['x', 2], text: 'SELECT * FROM t WHERE a = $1 AND b = $2', values: ['x', 2] },
    { name: 'a name used twice gets one number', sql: 'UPDATE t SET a = @now, b = @now WHERE id = @id', params: { now: 5, id: 'k' }, text: 'UPDATE t SET a = $1, b = $1 WHERE id = $2', values: [5, 'k'] },
    { name: 'a ? inside quotes stays', sql: "SELECT '?', \"a?\" FROM t WHERE x = ?", params: [1], text: "SELECT '?', \"a?\" FROM t WHERE x = $1", values: [1] },
    { name: 'a doubled quote stays inside the literal', sql: "SELECT 'it''s ?' WHERE x = ?", params: [1], text: "SELECT 'it''s ?' WHERE x = $1", values: [1] },
    { name: 'an @ inside quotes stays', sql: "SELECT * FROM t WHERE email LIKE '%@example.com' AND id = @id", params: { id: 'k' }, text: "SELECT * FROM t WHERE email LIKE '%@example.com' AND id = $1", values: ['k'] },
    { name: 'comments are copied', sql: 'SELECT 1 -- why?\nWHERE a = ?', params: [1], text: 'SELECT 1 -- why?\nWHERE a = $1', values: [1] },
    { name: 'booleans become 1/0 and undefined NULL', sql: 'INSERT INTO t VALUES (?, ?, ?)', params: [true, false, undefined], values: [1, 0, null] },
    { name: 'a missing named value is refused', sql: 'SELECT @a, @b', params: { a: 1 }, error: /missing a value for @b/ },
    { name: 'too few positional values are refused', sql: 'SELECT ?, ?', params: [1], error: /expected 2 values, got 1/ },
    { name: 'both styles in one statement are refused', sql: 'SELECT ?, @a', params: [1], error: /either \? or @name/ },
    { name: 'named placeholders with an array are refused', sql: 'SELECT @a', params: [1], error: /need an object/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const run = () => toPostgresPlaceholders(c.sql, c.params as never);
      if (c.error) {
        assert.throws(run, c.error);
        return;
      }
      const result = run();
      if (c.text) assert.equal(result.text, c.text);
      assert.deepEqual(result.values, c.values);
    });
  }

  // Every place node-postgres takes a password from (pg-connection-string reads query parameters too).
  const urls: Array<[string, string, string]> = [
    ['in user:password@', 'postgres://gh:s3cret@db:5432/gatehouse?sslmode=require', 'postgres://gh:***@db:5432/gatehouse?sslmode=require'],
    ['as ?password=', 'postgres://gh@db:5432/gatehouse?password=s3cret&sslmode=require', 'postgres://gh@db:5432/gatehouse?password=***&sslmode=require'],
    ['as ?sslpassword= (the client key\'s)', 'postgres://gh@db/gatehouse?sslkey=%2Fk.pem&sslpassword=s3cret', 'postgres://gh@db/gatehouse?sslkey=%2Fk.pem&sslpassword=***'],
    ['in both places', 'postgresql://gh:s3cret@db/gatehouse?password=s3cret', 'postgresql://gh:***@db/gatehouse?password=***'],
    ['percent-encoded in a parameter', 'postgres://gh@db/gatehouse?pass%77ord=s3cret', 'postgres://gh@db/gatehouse?password=***'],
  ];
  for (const [where, url, logged] of urls) {
    test(`a database URL is logged without its password ${where}`, () => {
      assert.equal(redactDatabaseUrl(url), logged);
      assert.doesNotMatch(redactDatabaseUrl(url), /s3cret/);
    });
  }

  test('a string that is no URL is logged as none of it', () => {
    assert.doesNotMatch(redactDatabaseUrl('not a url s3cret'), /s3cret/);
  });
});

for (const backend of TEST_BACKENDS) {
  describe(`the storage seam (${backend})`, () => {
    let dir: string;
    let db: SqlDatabase;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'gatehouse-storage-'));
      db = await openDatabase(await testDatabaseSettings(backend, join(dir, 'auth-server.db')), 'auth-server');
      await db.run(`CREATE TABLE seam_test (
        id TEXT PRIMARY KEY, n BIGINT, flag INTEGER NOT NULL DEFAULT 0, ratio DOUBLE PRECISION, data ${backend === 'postgres' ? 'BYTEA' : 'BLOB'}
      )`);
    });
    after(async () => {
      await db?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('reads back what it wrote, with the same types on both engines', async () => {
      const at = Date.UTC(2026, 11, 1) + 0.0;
      await db.run('INSERT INTO seam_test (id, n, flag, ratio, data) VALUES (@id, @n, @flag, @ratio, @data)', { id: 'a', n: at, flag: true, ratio: 0.5, data: Buffer.from([1, 2, 3]) });
      const row = await db.get<{ id: string; n: number; flag: number; ratio: number; data: Buffer }>('SELECT * FROM seam_test WHERE id = ?', ['a']);
      assert.deepEqual({ ...row, data: [...row!.data] }, { id: 'a', n: at, flag: 1, ratio: 0.5, data: [1, 2, 3] });
      const count = await db.get<{ n: number }>('SELECT count(*) AS n FROM seam_test');
      assert.equal(count?.n, 1, 'count(*) is a number, not a string');
      assert.equal(await db.get('SELECT * FROM seam_test WHERE id = ?', ['missing']), undefined);
    });

    test('named values: true/false are stored as 1/0 and undefined as NULL, the others as they are', async () => {
      await db.run('INSERT INTO seam_test (id, n, flag, ratio) VALUES (@id, @n, @flag, @ratio)', { id: 'named-1', n: undefined, flag: false, ratio: 0.25 });
      await db.run('INSERT INTO seam_test (id, n, flag, ratio) VALUES (@id, @n, @flag, @ratio)', { id: 'named-2', n: 7, flag: 1, ratio: null });
      const rows = await db.all<{ id: string; n: number | null; flag: number; ratio: number | null }>("SELECT id, n, flag, ratio FROM seam_test WHERE id LIKE 'named-%' ORDER BY id");
      assert.deepEqual(rows.map((row) => ({ ...row })), [{ id: 'named-1', n: null, flag: 0, ratio: 0.25 }, { id: 'named-2', n: 7, flag: 1, ratio: null }]);
    });

    test('run reports how many rows changed; upserts and RETURNING work the same', async () => {
      const upsert = 'INSERT INTO seam_test (id, n) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET n = seam_test.n + excluded.n RETURNING n';
      assert.deepEqual(await db.all(upsert, ['counter', 1]), [{ n: 1 }]);
      assert.deepEqual(await db.all(upsert, ['counter', 1]), [{ n: 2 }]);
      assert.equal((await db.run('UPDATE seam_test SET flag = 1 WHERE id = ?', ['counter'])).changes, 1);
      assert.equal((await db.run('UPDATE seam_test SET flag = 1 WHERE id = ?', ['nobody'])).changes, 0);
    });

    test('a transaction commits when it resolves and leaves nothing behind when it throws', async () => {
      await db.transaction(async (tx) => {
        await tx.run('INSERT INTO seam_test (id, n) VALUES (?, ?)', ['kept', 1]);
      });
      await assert.rejects(db.transaction(async (tx) => {
        await tx.run('INSERT INTO seam_test (id, n) VALUES (?, ?)', ['lost', 1]);
        await tx.run('UPDATE seam_test SET n = 99 WHERE id = ?', ['kept']);
        throw new Error('changed my mind');
      }), /changed my mind/);
      assert.deepEqual(await db.all('SELECT id, n FROM seam_test WHERE id IN (?, ?) ORDER BY id', ['kept', 'lost']), [{ id: 'kept', n: 1 }]);
    });

    test('a statement outside a transaction never slips into it (nor is it rolled back with it)', async () => {
      let inside!: () => void;
      const opened = new Promise<void>((resolve) => (inside = resolve));
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const failing = db.transaction(async (tx) => {
        await tx.run('INSERT INTO seam_test (id, n) VALUES (?, ?)', ['tx-row', 1]);
        inside();
        await held;
        throw new Error('roll back');
      });
      await opened;
      const outside = db.run('INSERT INTO seam_test (id, n) VALUES (?, ?)', ['outside-row', 1]);
      release();
      await assert.rejects(failing, /roll back/);
      await outside;
      assert.deepEqual(await db.all("SELECT id FROM seam_test WHERE id IN ('tx-row', 'outside-row')"), [{ id: 'outside-row' }]);
    });

    test('concurrent transactions each see a consistent count (no lost update)', async () => {
      await db.run('INSERT INTO seam_test (id, n) VALUES (?, 0)', ['shared']);
      const lock = backend === 'postgres' ? ' FOR UPDATE' : '';
      await Promise.all(Array.from({ length: 20 }, () => db.transaction(async (tx) => {
        const row = await tx.get<{ n: number }>(`SELECT n FROM seam_test WHERE id = ?${lock}`, ['shared']);
        await tx.run('UPDATE seam_test SET n = ? WHERE id = ?', [row!.n + 1, 'shared']);
      })));
      assert.deepEqual(await db.get('SELECT n FROM seam_test WHERE id = ?', ['shared']), { n: 20 });
    });

    // On SQLite only: PostgreSQL runs such a statement on another pooled connection.
    if (backend === 'sqlite') test('a statement inside a transaction that forgets its tx fails at once instead of waiting for itself', async () => {
      await assert.rejects(db.transaction(async () => {
        await db.run('INSERT INTO seam_test (id, n) VALUES (?, ?)', ['forgot-tx', 1]);
      }), /must use its tx/);
      await assert.rejects(db.transaction(async () => db.transaction(async () => undefined)), /must use its tx/, 'nor can it open another');
      assert.equal(await db.get('SELECT id FROM seam_test WHERE id = ?', ['forgot-tx']), undefined);
    });

    test('an SQL error rejects with the engine\'s error and the database stays usable', async () => {
      await assert.rejects(db.run('INSERT INTO no_such_table VALUES (1)'));
      await assert.rejects(db.transaction(async (tx) => tx.run('INSERT INTO no_such_table VALUES (1)')));
      assert.deepEqual(await db.get('SELECT 1 AS one'), { one: 1 });
    });
  });
}

if (TEST_BACKENDS.includes('postgres')) {
  describe('connection settings on PostgreSQL', () => {
    test('sslmode in the URL reaches the driver: require refuses a server without TLS, and says so', async () => {
      const url = new URL(await createTestPostgresDatabase());
      url.searchParams.set('sslmode', 'require');
      const db = new PostgresDatabase({ url: url.toString(), connectTimeoutMs: 2000 });
      try {
        await assert.rejects(db.get('SELECT 1 AS one'), (err) => err instanceof DatabaseUnavailableError && /SSL/i.test(databaseErrorReason(err)));
      } finally {
        await db.close();
      }
    });

    test('a statement running longer than statement_timeout is cancelled by the server', async () => {
      const db = new PostgresDatabase({ url: await createTestPostgresDatabase(), statementTimeoutMs: 200 });
      try {
        await assert.rejects(db.get('SELECT pg_sleep(2)'), /statement timeout/);
        assert.deepEqual(await db.get('SELECT 1 AS one'), { one: 1 }, 'the pool goes on');
      } finally {
        await db.close();
      }
    });

    test('a transaction whose connection the server ends (a restart) fails with 503, not an uncaught error, and the pool goes on', async () => {
      const db = new PostgresDatabase({ url: await createTestPostgresDatabase() });
      try {
        const removed = once(db.pool, 'remove');
        await assert.rejects(db.transaction(async (tx) => tx.get('SELECT pg_terminate_backend(pg_backend_pid())')), DatabaseUnavailableError);
        // The connection's own 'error' event follows the statement's failure: the pool removes the
        // connection once it has ended, after any event it had to emit.
        await removed;
        assert.equal(db.pool.totalCount, 0, 'the ended connection is not back in the pool');
        assert.deepEqual(await db.transaction((tx) => tx.get('SELECT 1 AS one')), { one: 1 });
      } finally {
        await db.close();
      }
    });

    test('a transaction PostgreSQL ends for another\'s sake (a deadlock) fails with 503 temporarily_unavailable, and the other commits', async () => {
      const db = new PostgresDatabase({ url: await createTestPostgresDatabase() });
      try {
        await db.run('CREATE TABLE pair (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)');
        await db.run('INSERT INTO pair (id, n) VALUES (1, 0), (2, 0)');
        // Each takes one row, then, once both hold theirs, asks for the other's: a deadlock.
        let held = 0;
        let bothHeld!: () => void;
        const both = new Promise<void>((resolve) => (bothHeld = resolve));
        const crosswise = (first: number, second: number) => db.transaction(async (tx) => {
          await tx.run('UPDATE pair SET n = n + 1 WHERE id = ?', [first]);
          if (++held === 2) bothHeld();
          await both;
          await tx.run('UPDATE pair SET n = n + 1 WHERE id = ?', [second]);
        });
        const results = await Promise.allSettled([crosswise(1, 2), crosswise(2, 1)]);
        const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
        assert.equal(failed.length, 1, 'one of the two is ended, the other commits');
        assert.ok(failed[0] instanceof DatabaseUnavailableError, String(failed[0]));
        assert.equal(failed[0].status, 503);
        assert.equal(failed[0].error, 'temporarily_unavailable');
        assert.match(databaseErrorReason(failed[0]), /deadlock/);
        assert.deepEqual(await db.all('SELECT n FROM pair ORDER BY id'), [{ n: 1 }, { n: 1 }], 'only the committed one counted');
      } finally {
        await db.close();
      }
    });

    test('the pool is bounded: with max_connections 2, a third concurrent query waits instead of opening a connection', async () => {
      const url = await createTestPostgresDatabase();
      const db = new PostgresDatabase({ url, maxConnections: 2 });
      try {
        const sessions = async () => (await db.get<{ n: number }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'gatehouse'"))!.n;
        await Promise.all(Array.from({ length: 6 }, () => db.get('SELECT pg_sleep(0.05)')));
        assert.ok(await sessions() <= 2, 'never more than two connections');
      } finally {
        await db.close();
      }
    });
  });

  describe('migrations on PostgreSQL', () => {
    test('replicas starting together apply each migration once, and a later start applies none', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-storage-'));
      const settings = await testDatabaseSettings('postgres', join(dir, 'unused.db'));
      try {
        const replicas = await Promise.all([1, 2, 3].map(() => openDatabase(settings, 'auth-server')));
        const resource = await openDatabase(settings, 'resource-server');
        const applied = await replicas[0]!.all<{ app: string; version: string }>('SELECT app, version FROM schema_migrations ORDER BY app, version');
        assert.deepEqual(applied.filter((row) => row.app === 'auth-server').map((row) => row.version).slice(0, 1), ['001_initial.sql']);
        const versions = applied.map((row) => `${row.app}/${row.version}`);
        assert.equal(new Set(versions).size, versions.length, 'no migration recorded twice');
        assert.ok(versions.includes('resource-server/001_initial.sql'), 'both apps share the database and its migration table');
        const feeds = await replicas[1]!.all('SELECT feed FROM revocation_feed');
        assert.equal(feeds.length, 1, 'the one-row table was seeded once');
        await Promise.all([...replicas, resource].map((db) => db.close()));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('a replica starting while another migrates for longer than statement_timeout waits for it, then starts', async () => {
      const settings = await testDatabaseSettings('postgres', '/nonexistent');
      const migrating = new PostgresDatabase(settings.postgres!);
      try {
        // Stands for another replica inside a migration that holds the lock for 2 s.
        let locked!: () => void;
        const holding = migrating.transaction(async (tx) => {
          await tx.get('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK]);
          locked();
          await new Promise((resolve) => setTimeout(resolve, 2000));
        });
        await new Promise<void>((resolve) => (locked = resolve));
        const db = await openDatabase({ ...settings, postgres: { ...settings.postgres!, statementTimeoutMs: 1000 } }, 'auth-server');
        await holding;
        assert.ok(await db.get("SELECT 1 FROM schema_migrations WHERE app = 'auth-server'"), 'it migrated once the lock was free');
        await assert.rejects(db.get('SELECT pg_sleep(2)'), /statement timeout/, 'its statements are still bounded afterwards');
        await db.close();
      } finally {
        await migrating.close();
      }
    });

    test('a migration running longer than statement_timeout completes', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-slow-migration-'));
      const db = new PostgresDatabase({ url: await createTestPostgresDatabase(), statementTimeoutMs: 500 });
      try {
        // Stands for rewriting every row of a large table.
        writeFileSync(join(dir, '001_slow.sql'), 'CREATE TABLE slow (n INTEGER); INSERT INTO slow SELECT 1 FROM pg_sleep(1.5);');
        assert.deepEqual(await migratePostgres(db, 'slow-app', dir), ['001_slow.sql']);
        assert.deepEqual(await db.get('SELECT n FROM slow'), { n: 1 });
      } finally {
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

describe('a file that is not a SQLite database', () => {
  test('is refused, and the file is not left open', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-not-sqlite-'));
    try {
      const file = join(dir, 'auth-server.db');
      writeFileSync(file, 'not a database, '.repeat(512));
      // The process's descriptors open on that file (Linux: /proc/self/fd links to each one's path).
      const openOnIt = () => readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === file;
        } catch {
          return false; // closed meanwhile (readdir's own descriptor)
        }
      });
      assert.throws(() => new SqliteDatabase(file), /file is not a database/);
      assert.deepEqual(openOnIt(), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
