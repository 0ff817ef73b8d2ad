/**
 * The resource-server's own tables, on each backend: notes stay with their owner and are capped
 * per user (also when replicas create at once), the audit trail is written in batches off the
 * request path and swept after its retention, and MCP session records obey their limits.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrationsDir, openDatabase, type DatabaseSettings } from '../../apps/shared/storage/open-database.ts';
import { migratePostgres } from '../../apps/shared/storage/migrate-postgres.ts';
import { PostgresDatabase } from '../../apps/shared/storage/postgres-database.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { migrateSqlite, SqliteDatabase } from '../../apps/shared/storage/sqlite-database.ts';
import { AuditStore } from '../../apps/resource-server/src/storage/audit-store.ts';
import { McpSessionStore } from '../../apps/resource-server/src/storage/mcp-session-store.ts';
import { MAX_NOTES_PER_USER, NoteLimitReachedError, NoteStore } from '../../apps/resource-server/src/storage/note-store.ts';
import { TEST_BACKENDS, testDatabaseSettings } from '../helpers/test-database.ts';
import { waitFor } from '../helpers/wait-for.ts';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const failOnWrite = (err: unknown) => assert.fail(`audit write failed: ${String(err)}`);
const INITIALIZE_PARAMS = { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'test', version: '1' } };

for (const backend of TEST_BACKENDS) {
  describe(`resource-server storage (${backend})`, () => {
    let dir: string;
    let settings: DatabaseSettings;
    let db: SqlDatabase;
    /**
     * Another replica's connection to the same database. SQLite serves one process (a second
     * handle in this process would wait synchronously on the first's open transaction), so there
     * it is the same handle, and the races below interleave in one process.
     */
    let replica: SqlDatabase;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'gatehouse-rs-db-'));
      settings = await testDatabaseSettings(backend, join(dir, 'resource-server.db'));
      db = await openDatabase(settings, 'resource-server');
      replica = backend === 'postgres' ? await openDatabase(settings, 'resource-server') : db;
    });
    after(async () => {
      if (replica !== db) await replica?.close();
      await db?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('migrations apply once', async () => {
      const again = db instanceof SqliteDatabase
        ? migrateSqlite(db, migrationsDir('sqlite', 'resource-server'))
        : await migratePostgres(db as PostgresDatabase, 'resource-server', migrationsDir('postgres', 'resource-server'));
      assert.deepEqual(again, []);
    });

    test('caps the notes one user can keep, without affecting others', async () => {
      const notes = new NoteStore(db);
      await fillNotes(db, 'hoarder', MAX_NOTES_PER_USER - 1);
      assert.ok(await notes.create('hoarder', 'the last one', ''));
      await assert.rejects(notes.create('hoarder', 'one more', ''), NoteLimitReachedError);
      assert.ok(await notes.create('someone-else', 'fine', ''));
    });

    test('keeps the cap when two replicas create one user\'s notes at the same instant', async () => {
      const owner = randomUUID();
      await fillNotes(db, owner, MAX_NOTES_PER_USER - 2);
      await warmUp(db, replica);
      const stores = [new NoteStore(db), new NoteStore(replica)];
      const attempts = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => stores[i % 2]!.create(owner, `race ${i}`, '')));
      assert.equal(attempts.filter((attempt) => attempt.status === 'fulfilled').length, 2);
      const count = await db.get<{ n: number }>('SELECT count(*) AS n FROM notes WHERE owner_sub = ?', [owner]);
      assert.equal(count?.n, MAX_NOTES_PER_USER);
    });

    test('lists a user\'s notes newest first, up to the limit, and reads and deletes only the owner\'s', async () => {
      const notes = new NoteStore(db);
      await notes.create('lister', 'old', '', 1_000);
      const newer = await notes.create('lister', 'new', 'text', 2_000);
      assert.deepEqual((await notes.list('lister', 1)).map((note) => note.title), ['new']);
      assert.deepEqual((await notes.list('lister', 10)).map((note) => note.title), ['new', 'old']);
      assert.equal(await notes.get('intruder', newer.id), undefined);
      assert.equal(await notes.delete('intruder', newer.id), false);
      assert.deepEqual(await notes.get('lister', newer.id), { id: newer.id, title: 'new', body: 'text', created_at: new Date(2_000).toISOString() });
      assert.equal(await notes.delete('lister', newer.id), true);
    });

    test('sweeps audit records older than the retention', async () => {
      const audit = new AuditStore(db, failOnWrite);
      const now = Date.now();
      const subject = randomUUID();
      const call = { subject, clientId: 'c', tool: 'whoami', outcome: 'ok' as const };
      audit.record({ ...call, tool: 'old' }, now - 8 * 86400_000);
      audit.record({ ...call, tool: 'recent' }, now - 86400_000);
      assert.equal(await audit.sweep(7 * 86400, now), 1);
      assert.deepEqual((await audit.recent(10)).filter((entry) => entry.subject === subject).map((entry) => entry.tool), ['recent']);
    });

    test('tool calls queued together are written together, in one commit, not on the request path, and reads see them at once', async () => {
      // A delay no run reaches: "not written yet" must not race the timer on a busy machine (the
      // timer itself: the next test).
      const audit = new AuditStore(db, failOnWrite, undefined, { writeDelayMs: 60_000 });
      const subject = randomUUID();
      const call = { subject, clientId: 'c', server: 'files', tool: 'files__read', outcome: 'ok' as const, durationMs: 3 };
      const count = async () => (await db.get<{ n: number }>('SELECT count(*) AS n FROM tool_calls WHERE subject = ?', [subject]))!.n;
      const other = db instanceof SqliteDatabase ? new SqliteDatabase(db.location).handle : undefined;
      const seenBefore = other?.pragma('data_version', { simple: true }) as number;
      audit.record(call);
      audit.record(call);
      await nextTurn();
      await nextTurn();
      // Calls of later turns (one call in flight at a time) join the same batch.
      audit.record(call);
      await nextTurn();
      assert.equal(await count(), 0, 'not written on the request path, nor a turn or two later');
      await audit.flush();
      assert.equal(await count(), 3);
      if (other) {
        assert.equal((other.pragma('data_version', { simple: true }) as number) - seenBefore, 1, 'in one commit');
        other.close();
      } else {
        // Rows written by one transaction carry its id in xmin.
        const transactions = await db.get<{ n: number }>('SELECT count(DISTINCT xmin::text) AS n FROM tool_calls WHERE subject = ?', [subject]);
        assert.equal(transactions?.n, 1, 'in one transaction');
      }
      audit.record({ ...call, tool: 'files__write' });
      assert.equal((await audit.recent(1))[0]!.tool, 'files__write', 'a read flushes what is queued first');
    });

    test('a queued batch is written once its delay is up, without a flush', async () => {
      const audit = new AuditStore(db, failOnWrite, undefined, { writeDelayMs: 20 });
      const subject = randomUUID();
      audit.record({ subject, clientId: 'c', server: 'files', tool: 'files__read', outcome: 'ok' });
      await waitFor('the batch written by its timer', async () => (await db.get<{ n: number }>('SELECT count(*) AS n FROM tool_calls WHERE subject = ?', [subject]))!.n === 1);
    });

    test('a batch larger than one INSERT holds is still written in one commit', async () => {
      const audit = new AuditStore(db, failOnWrite);
      const subject = randomUUID();
      const other = db instanceof SqliteDatabase ? new SqliteDatabase(db.location).handle : undefined;
      const seenBefore = other?.pragma('data_version', { simple: true }) as number;
      for (let i = 0; i < 450; i += 1) audit.record({ subject, clientId: 'c', tool: 'whoami', outcome: 'ok' });
      await audit.flush();
      assert.equal((await db.get<{ n: number }>('SELECT count(*) AS n FROM tool_calls WHERE subject = ?', [subject]))!.n, 450);
      if (other) {
        assert.equal((other.pragma('data_version', { simple: true }) as number) - seenBefore, 1, 'in one commit');
        other.close();
      } else {
        const transactions = await db.get<{ n: number }>('SELECT count(DISTINCT xmin::text) AS n FROM tool_calls WHERE subject = ?', [subject]);
        assert.equal(transactions?.n, 1, 'in one transaction');
      }
    });

    test('a read on one replica sees the calls recorded on another', async () => {
      const subject = randomUUID();
      new AuditStore(db, failOnWrite).record({ subject, clientId: 'c', tool: 'whoami', outcome: 'ok' });
      const other = new AuditStore(replica, failOnWrite);
      await waitFor('the call recorded on the first replica', async () => (await other.recent(20)).some((entry) => entry.subject === subject));
    });

    test('a queued write that fails is reported, not thrown into the event loop', async () => {
      const scratch = await openDatabase(await testDatabaseSettings(backend, join(dir, 'scratch.db')), 'resource-server');
      const failures: unknown[] = [];
      const audit = new AuditStore(scratch, (err) => failures.push(err));
      audit.record({ subject: 's', clientId: 'c', tool: 'whoami', outcome: 'ok' });
      await scratch.close();
      await waitFor('the failure to be reported', () => failures.length === 1);
      await audit.flush();
      assert.equal(failures.length, 1);
    });

    describe('MCP session records', () => {
      const limits = { maxSessions: 1000, maxSessionsPerSubject: 2 };
      const open = (store: McpSessionStore, subject: string, now: number, overrides: Partial<typeof limits> = {}) => {
        const id = randomUUID();
        return store.open({ id, subject, protocolVersion: '2025-11-25', initializeParams: INITIALIZE_PARAMS }, { ...limits, ...overrides }, now).then((ended) => ({ id, ended }));
      };

      test('a session is found only for its subject, until it idles out or ends, and stores the client\'s initialize', async () => {
        const store = new McpSessionStore(db);
        const alice = randomUUID();
        const { id } = await open(store, alice, 1_000);
        assert.equal(await store.touch(id, randomUUID(), 0, 1_500), undefined, 'another subject');
        const found = await new McpSessionStore(replica).touch(id, alice, 1_000 - 60_000, 2_000);
        assert.deepEqual(found, { id, subject: alice, protocolVersion: '2025-11-25', initializeParams: INITIALIZE_PARAMS, createdAt: 1_000, lastUsedAt: 2_000 });
        assert.equal(await store.touch(id, alice, 2_000, 3_000), undefined, 'last used at the idle limit: timed out');
        assert.ok(await store.touch(id, alice, 1_999, 3_000), 'a touch that finds nothing changes nothing');
        assert.equal(await store.end(id), true);
        assert.equal(await store.touch(id, alice, 0, 4_000), undefined, 'ended');
        assert.equal(await store.end(id), false);
      });

      test('records a session\'s use at most once a second, however often it is asked for', async () => {
        const store = new McpSessionStore(db);
        const dave = randomUUID();
        const { id } = await open(store, dave, 10_000);
        assert.equal((await store.touch(id, dave, 0, 10_999))?.lastUsedAt, 10_000, 'within the interval: read, not written');
        const stored = async () => (await db.get<{ at: number }>('SELECT last_used_at AS at FROM mcp_sessions WHERE id = ?', [id]))?.at;
        assert.equal(await stored(), 10_000);
        assert.equal((await store.touch(id, dave, 0, 11_000))?.lastUsedAt, 11_000);
        assert.equal(await stored(), 11_000);
      });

      test('opening beyond a user\'s limit ends their least recently used session, and nobody else\'s', async () => {
        const store = new McpSessionStore(db);
        const [alice, bob] = [randomUUID(), randomUUID()];
        const bobs = await open(store, bob, 1_000);
        const first = await open(store, alice, 1_000);
        const second = await open(store, alice, 1_000);
        await store.touch(first.id, alice, 0, 2_000);
        const third = await open(store, alice, 2_000);
        assert.deepEqual(third.ended, [second.id], 'the one used least recently, not the one opened first');
        assert.ok(await store.touch(first.id, alice, 0, 3_000));
        assert.ok(await store.touch(bobs.id, bob, 0, 3_000));
      });

      test('opening beyond the overall limit ends the least recently used session', async () => {
        const scratch = await openDatabase(await testDatabaseSettings(backend, join(dir, 'sessions.db')), 'resource-server');
        const store = new McpSessionStore(scratch);
        const opened = [];
        for (let i = 0; i < 3; i += 1) opened.push(await open(store, randomUUID(), 1_000 + i, { maxSessions: 2 }));
        assert.deepEqual(opened.map(({ ended }) => ended), [[], [], [opened[0]!.id]]);
        assert.equal(await store.endIdle(1_001), 1, 'idle sessions are swept');
        await scratch.close();
      });

      test('stillOpen answers as touch does for a session the caller holds, and records its use at most once a second', async () => {
        const store = new McpSessionStore(db);
        const gina = randomUUID();
        const { id } = await open(store, gina, 20_000);
        const stored = async () => (await db.get<{ at: number }>('SELECT last_used_at AS at FROM mcp_sessions WHERE id = ?', [id]))?.at;
        assert.equal(await store.stillOpen(id, randomUUID(), 0, 20_500), false, 'another subject');
        assert.equal(await store.stillOpen(id, gina, 0, 20_999), true);
        assert.equal(await stored(), 20_000, 'within the interval: read, not written');
        assert.equal(await store.stillOpen(id, gina, 0, 21_000), true);
        assert.equal(await stored(), 21_000);
        assert.equal(await store.stillOpen(id, gina, 21_000, 22_000), false, 'idle: last used at the limit');
        await new McpSessionStore(replica).end(id);
        assert.equal(await store.stillOpen(id, gina, 0, 22_000), false, 'ended by another replica');
      });

      describe('kept in memory by a sole writer', () => {
        test('a held session costs no read, and is gone at once when this store ends it, sweeps it idle or ends it over a limit', async () => {
          // Its own database: the idle sweep below ends every session idle by then.
          const scratch = await openDatabase(await testDatabaseSettings(backend, join(dir, 'held-sessions.db')), 'resource-server');
          const watched = watchReads(scratch);
          const store = new McpSessionStore(watched, { soleWriter: true });
          const erin = randomUUID();
          const { id } = await open(store, erin, 1_000);
          assert.ok(await store.touch(id, erin, 0, 1_500));
          assert.ok(await store.touch(id, erin, 0, 1_600));
          assert.equal(watched.reads, 0, 'the row it wrote is answered from memory');
          assert.equal(await store.touch(id, randomUUID(), 0, 1_700), undefined, 'another subject');
          assert.equal(await store.touch(id, erin, 1_000, 1_800), undefined, 'idle: last used at the limit');
          assert.equal(await store.end(id), true);
          assert.equal(await store.touch(id, erin, 0, 1_900), undefined, 'ended');

          const idle = await open(store, erin, 2_000);
          assert.ok(await store.touch(idle.id, erin, 0, 2_500));
          assert.equal(await store.endIdle(2_000), 1);
          assert.equal(await store.touch(idle.id, erin, 0, 3_000), undefined, 'swept idle');

          const oldest = await open(store, erin, 4_000);
          await open(store, erin, 4_001);
          const third = await open(store, erin, 4_002);
          assert.deepEqual(third.ended, [oldest.id]);
          assert.equal(await store.touch(oldest.id, erin, 0, 4_003), undefined, 'ended over the per-user limit');
          await scratch.close();
        });

        test('a row it had to read is held too, unless a deletion finished while it was being read', async () => {
          const frank = randomUUID();
          const { id } = await open(new McpSessionStore(db), frank, 5_000);
          const watched = watchReads(db);
          const store = new McpSessionStore(watched, { soleWriter: true });
          assert.ok(await store.touch(id, frank, 0, 5_100));
          assert.ok(await store.touch(id, frank, 0, 5_200));
          assert.equal(watched.reads, 1, 'read once, then held');
          await store.end(id);

          const { id: raced } = await open(new McpSessionStore(db), frank, 6_000);
          const late = new McpSessionStore(watched, { soleWriter: true });
          const release = watched.holdReads();
          const touching = late.touch(raced, frank, 0, 6_100);
          await waitFor('the read to be held', () => watched.held === 1);
          await late.end(raced);
          release();
          await touching;
          assert.equal(await late.touch(raced, frank, 0, 6_200), undefined, 'the row read before the DELETE is not kept');
        });
      });

      test('two replicas opening one user\'s sessions at the same instant stay within the limit', async () => {
        const stores = [new McpSessionStore(db), new McpSessionStore(replica)];
        const carol = randomUUID();
        await warmUp(db, replica);
        await Promise.all(Array.from({ length: 8 }, (_, i) => open(stores[i % 2]!, carol, 5_000)));
        const count = await db.get<{ n: number }>('SELECT count(*) AS n FROM mcp_sessions WHERE subject = ?', [carol]);
        assert.equal(count?.n, limits.maxSessionsPerSubject);
      });
    });
  });
}

/** Opens every pooled connection first, so the racing transactions start together. */
async function warmUp(...databases: SqlDatabase[]): Promise<void> {
  await Promise.all(databases.flatMap((database) => Array.from({ length: 5 }, () => database.transaction((tx) => tx.get('SELECT 1')))));
}

/** `count` notes for `owner` in one statement per 200 (the cap's worth through `create` would be slow). */
async function fillNotes(db: SqlDatabase, owner: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 200) {
    const rows = Array.from({ length: Math.min(200, count - start) }, (_, i) => [randomUUID(), owner, `note ${start + i}`, '', start + i]);
    await db.run(`INSERT INTO notes (id, owner_sub, title, body, created_at) VALUES ${rows.map(() => '(?, ?, ?, ?, ?)').join(', ')}`, rows.flat());
  }
}

interface WatchedDatabase extends SqlDatabase {
  /** Statements that read (get, all) so far. */
  readonly reads: number;
  /** Reads whose answer is being held back. */
  readonly held: number;
  /** Holds back the answers of reads from now on, until the returned function is called. */
  holdReads(): () => void;
}

/** `db`, counting the reads that reach it; `holdReads` delays their answers (not the reads themselves). */
function watchReads(db: SqlDatabase): WatchedDatabase {
  let reads = 0;
  let held = 0;
  let gate: Promise<void> | undefined;
  const read = async <T>(answer: Promise<T>): Promise<T> => {
    reads += 1;
    const result = await answer;
    if (gate) {
      held += 1;
      await gate;
    }
    return result;
  };
  return {
    dialect: db.dialect,
    location: db.location,
    get reads() { return reads; },
    get held() { return held; },
    holdReads() {
      let open!: () => void;
      gate = new Promise((resolve) => (open = resolve));
      return () => {
        gate = undefined;
        open();
      };
    },
    all: (sql, params) => read(db.all(sql, params)),
    get: (sql, params) => read(db.get(sql, params)),
    run: (sql, params) => db.run(sql, params),
    transaction: (fn) => db.transaction(fn),
    releaseFreePages: () => db.releaseFreePages(),
    close: () => db.close(),
  };
}
