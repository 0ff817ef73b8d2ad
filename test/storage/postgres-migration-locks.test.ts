/**
 * A PostgreSQL migration and the locks of replicas already running (migratePostgres): a migration
 * whose table a running replica's transaction holds waits for it at most lock_timeout per attempt,
 * so the queries queued behind its ACCESS EXCLUSIVE request are not held up for as long as that
 * transaction lasts; after its attempts the start fails with one line naming the migration and how
 * to find the holder, with nothing of it applied, and the next start applies it. Waiting for
 * another replica's migration (the advisory lock) stays unbounded, even under a lock_timeout the
 * database sets for every session.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import pg from 'pg';
import { findLockHolders, MAX_SHOWN } from '../../apps/shared/storage/find-lock-holders.ts';
import { MIGRATION_LOCK, migratePostgres } from '../../apps/shared/storage/migrate-postgres.ts';
import { MigrationBlockedError } from '../../apps/shared/storage/migration-blocked-error.ts';
import { PostgresDatabase } from '../../apps/shared/storage/postgres-database.ts';
import { startPgDumpHoldingLocks } from '../helpers/pg-dump-holding-locks.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';
import { waitFor } from '../helpers/wait-for.ts';

const APP = 'lock-app';
const ALTER = '002_widget_colour.sql';
/** Short, so the test does not wait long on the server's timer; the default is 2000. */
const LOCK_TIMEOUT_MS = 400;

describe('a PostgreSQL migration and the locks of running replicas', { skip: !TEST_BACKENDS.includes('postgres') && 'PostgreSQL is not among GATEHOUSE_TEST_BACKENDS' }, () => {
  let url: string;
  let dir: string;
  /** A running replica's connection, in a long transaction that read `widgets`. */
  let holder: pg.Client;
  let holderPid: number;
  /** Another replica serving requests on `widgets`; a query held up longer than this fails. */
  let serving: pg.Client;
  let db: PostgresDatabase;

  beforeEach(async () => {
    url = await createTestPostgresDatabase();
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-migration-locks-'));
    writeFileSync(join(dir, '001_widgets.sql'), 'CREATE TABLE widgets (id INTEGER PRIMARY KEY); INSERT INTO widgets VALUES (1), (2);');
    db = new PostgresDatabase({ url });
    assert.deepEqual(await migratePostgres(db, APP, dir), ['001_widgets.sql']);
    // The newer version's migration: ALTER TABLE takes an ACCESS EXCLUSIVE lock on widgets.
    writeFileSync(join(dir, ALTER), 'ALTER TABLE widgets ADD COLUMN colour TEXT;');
    holder = new pg.Client({ connectionString: url });
    serving = new pg.Client({ connectionString: url, statement_timeout: 5000 });
    await Promise.all([holder.connect(), serving.connect()]);
    holderPid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  });
  afterEach(async () => {
    await holder.query('ROLLBACK').catch(() => {});
    await Promise.all([holder.end(), serving.end()]);
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const hasColour = async () => (await serving.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'widgets' AND column_name = 'colour'")).rowCount === 1;
  const recorded = async () => (await serving.query('SELECT version FROM schema_migrations WHERE app = $1 ORDER BY version', [APP])).rows.map((row: { version: string }) => row.version);
  /** The migration's ALTER TABLE waiting in the lock queue of widgets. */
  const alterWaiting = () => waitFor('the migration waiting for its lock on widgets', async () => (await serving.query(
    "SELECT 1 FROM pg_locks WHERE relation = 'widgets'::regclass AND mode = 'AccessExclusiveLock' AND NOT granted",
  )).rowCount === 1, 10_000, 10);

  test('queries on the table wait behind the migration at most lock_timeout; after its attempts the start fails with one line naming the migration and the holder, nothing applied; once the holder commits it applies', async () => {
    await holder.query('BEGIN');
    await holder.query('SELECT count(*) FROM widgets');
    const pauses: number[] = [];
    const outcome = migratePostgres(db, APP, dir, { lockTimeoutMs: LOCK_TIMEOUT_MS, attempts: 3, sleep: async (ms) => void pauses.push(ms) })
      .then((applied) => applied, (err: unknown) => err);

    await alterWaiting();
    const queued = performance.now();
    // Queued behind the ALTER TABLE's request, not behind the holder (ACCESS SHARE goes with ACCESS SHARE).
    assert.deepEqual((await serving.query('SELECT count(*)::int AS n FROM widgets')).rows, [{ n: 2 }]);
    const heldUpMs = performance.now() - queued;
    // Measured: lock_timeout to the millisecond (the ALTER is seen waiting at once). The bound only
    // has to tell that from waiting for the holder (5 s, then serving's statement_timeout): the
    // rest is room for a loaded machine.
    assert.ok(heldUpMs < LOCK_TIMEOUT_MS + 2500, `a query on widgets waited ${Math.round(heldUpMs)} ms behind the migration`);

    const err = await outcome;
    assert.ok(err instanceof MigrationBlockedError, String(err));
    assert.match(err.message, new RegExp(`^migration ${ALTER.replaceAll('.', '\\.')} of ${APP} needs a lock on a table that another session held through 3 attempts of ${LOCK_TIMEOUT_MS} ms each \\(lock_timeout\\), so nothing of it was applied; `
      + `locks on its schema's tables held by pid ${holderPid} \\(idle in transaction, transaction open \\d+ s\\)\\. That session is usually a long open transaction: find it in pg_locks and pg_stat_activity \\(SELECT `));
    assert.doesNotMatch(err.message, /\n/);
    assert.deepEqual(pauses, [1000, 2000], 'three attempts, a pause twice as long before each next one');

    // The query the line gives names the holder and the table.
    const findHolders = /\((SELECT l\.relation::regclass.*? ORDER BY a\.xact_start)\)/.exec(err.message)![1]!;
    const holders = (await serving.query<{ relation: string; pid: number }>(findHolders)).rows;
    assert.ok(holders.some((row) => row.pid === holderPid && row.relation === 'widgets'), JSON.stringify(holders));

    assert.equal(await hasColour(), false, 'nothing of the migration applied');
    assert.deepEqual(await recorded(), ['001_widgets.sql']);

    await holder.query('COMMIT');
    assert.deepEqual(await migratePostgres(db, APP, dir, { lockTimeoutMs: LOCK_TIMEOUT_MS }), [ALTER], 'the next start applies it');
    assert.equal(await hasColour(), true);
  });

  test('a nightly pg_dump holding the table: the line names its session by pid, application_name, state and how long its transaction has been open, never by its query', { timeout: 30_000 }, async () => {
    const dump = await startPgDumpHoldingLocks(url, 'widgets');
    try {
      const err = await migratePostgres(db, APP, dir, { lockTimeoutMs: LOCK_TIMEOUT_MS, attempts: 2, sleep: async () => {} }).catch((failure: unknown) => failure);
      assert.ok(err instanceof MigrationBlockedError, String(err));
      // Still blocked writing its output, so as it was when the migration looked.
      const seen = (await serving.query<{ state: string; query: string }>('SELECT state, query FROM pg_stat_activity WHERE pid = $1', [dump.pid])).rows[0]!;
      assert.match(err.message, new RegExp(`, so nothing of it was applied; locks on its schema's tables held by pid ${dump.pid} \\(pg_dump, ${seen.state}, transaction open \\d+ s\\)\\. That session `));
      assert.ok(seen.query.length > 0 && !err.message.includes(seen.query), `its query is not in the line: ${seen.query}`);
      assert.doesNotMatch(err.message, /\n/);
    } finally {
      await dump.stop();
    }
  });

  test('several sessions holding locks: the oldest transactions first, at most a few, and how many more', async () => {
    const replicas = Array.from({ length: MAX_SHOWN + 2 }, (_, i) => new pg.Client({ connectionString: url, application_name: `replica-${i + 1}` }));
    try {
      for (const replica of replicas) {
        await replica.connect();
        await replica.query('BEGIN');
        await replica.query('SELECT count(*) FROM widgets');
      }
      const err = await migratePostgres(db, APP, dir, { lockTimeoutMs: LOCK_TIMEOUT_MS, attempts: 1 }).catch((failure: unknown) => failure);
      assert.ok(err instanceof MigrationBlockedError, String(err));
      const shown = /locks on its schema's tables held by (.*)\. That session/.exec(err.message)?.[1];
      assert.equal(shown?.replace(/pid \d+ \((replica-\d), idle in transaction, transaction open \d+ s\)/g, '$1'), 'replica-1, replica-2, replica-3, and 2 more');
    } finally {
      await Promise.all(replicas.map((replica) => replica.end()));
    }
  });

  test('a lookup of the holders that fails leaves them out: it never throws, and the line is said without them', async () => {
    const lost = new pg.Client({ connectionString: url });
    lost.on('error', () => {});
    await lost.connect();
    try {
      await lost.query('BEGIN');
      const { pid } = (await lost.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!;
      await serving.query('SELECT pg_terminate_backend($1)', [pid]);
      assert.equal(await findLockHolders(lost, LOCK_TIMEOUT_MS), undefined);
    } finally {
      await lost.end().catch(() => {});
    }
    const err = new MigrationBlockedError(`migration ${ALTER} of ${APP}`, { attempts: 5, lockTimeoutMs: 2000 }, undefined);
    assert.match(err.message, /, so nothing of it was applied\. That session is usually a long open transaction: find it in pg_locks /);
  });

  test('a holder that commits between attempts: the next attempt applies the migration', { timeout: 30_000 }, async () => {
    await holder.query('BEGIN');
    await holder.query('SELECT count(*) FROM widgets');
    const pauses: number[] = [];
    const applied = await migratePostgres(db, APP, dir, {
      lockTimeoutMs: LOCK_TIMEOUT_MS,
      async sleep(ms) {
        pauses.push(ms);
        await holder.query('COMMIT');
      },
    });
    assert.deepEqual(applied, [ALTER]);
    assert.deepEqual(pauses, [1000]);
    assert.deepEqual(await recorded(), ['001_widgets.sql', ALTER], 'recorded once');
  });

  test('replicas starting beside a blocked migration wait for the migration lock through its pauses, not in the table\'s lock queue', { timeout: 30_000 }, async () => {
    await holder.query('BEGIN');
    await holder.query('SELECT count(*) FROM widgets');
    let inPause!: () => void;
    const paused = new Promise<void>((resolve) => (inPause = resolve));
    let endPause!: () => void;
    const first = migratePostgres(db, APP, dir, {
      lockTimeoutMs: LOCK_TIMEOUT_MS,
      sleep: () => {
        inPause();
        return new Promise((resolve) => (endPause = resolve));
      },
    });
    await paused;
    const other = new PostgresDatabase({ url });
    const second = migratePostgres(other, APP, dir, { lockTimeoutMs: LOCK_TIMEOUT_MS, attempts: 2, sleep: async () => {} })
      .then((applied) => applied, (err: unknown) => err);
    try {
      const waitingOn = await waitFor('the second replica waiting, for the migration lock or for widgets', async () => {
        if ((await serving.query("SELECT 1 FROM pg_locks WHERE relation = 'widgets'::regclass AND mode = 'AccessExclusiveLock' AND NOT granted")).rowCount) return 'widgets';
        if ((await serving.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'")).rowCount) return 'the migration lock';
        return false;
      }, 10_000, 5);
      assert.equal(waitingOn, 'the migration lock');
    } finally {
      // Whatever was seen, both starts end, so their connections go back before the pools close.
      await holder.query('COMMIT');
      endPause();
    }
    assert.deepEqual(await first, [ALTER]);
    assert.deepEqual(await second, [], 'applied by the first');
    await other.close();
  });

  test('waiting for another replica\'s migration is not cut off by lock_timeout, even one the database sets for every session', { timeout: 30_000 }, async () => {
    // An operator's setting, as managed-database guides suggest; new sessions take it.
    await serving.query(`ALTER DATABASE ${pg.escapeIdentifier(new URL(url).pathname.slice(1))} SET lock_timeout = '100ms'`);
    const starting = new PostgresDatabase({ url });
    try {
      // Stands for another replica in the middle of a migration.
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      let settled: unknown;
      const migrating = migratePostgres(starting, APP, dir, { lockTimeoutMs: 100, attempts: 2, sleep: async () => {} })
        .then((applied) => (settled = applied), (err: unknown) => (settled = err));
      const seen = await waitFor('the start waiting on the migration lock for several times lock_timeout, or giving up', async () => {
        if (settled !== undefined) return { settled };
        return (await serving.query(
          "SELECT 1 FROM pg_stat_activity WHERE wait_event = 'advisory' AND state = 'active' AND now() - query_start > interval '500 ms' AND pid <> $1",
          [holderPid],
        )).rowCount === 1 && 'waiting';
      }, 20_000);
      assert.equal(seen, 'waiting');
      await holder.query('COMMIT');
      assert.deepEqual(await migrating, [ALTER]);
    } finally {
      await starting.close();
    }
  });

  test('the app\'s start fails with that one line on stderr, no stack, exit code 1', { timeout: 30_000 }, async () => {
    await holder.query('BEGIN');
    await holder.query('SELECT count(*) FROM widgets');
    // What main.ts does with a failed start, around a migration with short waits.
    const script = `
      import { exitOnStartFailure } from './apps/shared/exit-on-start-failure.ts';
      import { migratePostgres } from './apps/shared/storage/migrate-postgres.ts';
      import { PostgresDatabase } from './apps/shared/storage/postgres-database.ts';
      const db = new PostgresDatabase({ url: process.env.URL });
      migratePostgres(db, '${APP}', process.env.DIR, { lockTimeoutMs: ${LOCK_TIMEOUT_MS}, attempts: 2, sleep: async () => {} })
        .catch(exitOnStartFailure('auth-server', 'AUTH_PORT'));`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: join(import.meta.dirname, '..', '..'), env: { PATH: process.env.PATH, URL: url, DIR: dir },
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    let code: unknown;
    try {
      code = await new Promise((resolve) => child.on('close', resolve));
    } finally {
      if (child.exitCode === null) child.kill();
    }
    assert.equal(code, 1, stderr);
    assert.match(stderr, new RegExp(`^gatehouse auth-server: migration ${ALTER.replaceAll('.', '\\.')} of ${APP} needs a lock on a table that another session held through 2 attempts[^\\n]*then start again\\n$`));
  });
});
