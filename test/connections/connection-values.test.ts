/**
 * Connection events keep the values that repeat from event to event (client, user, address, user
 * agent, redirect URI, resource, scope) once, in the app's values table, and refer to them by
 * number (apps/shared/connections/connection-event-store.ts): each value stored once, read back
 * whole, deleted by the prune once no event left uses it, and events stored before the change
 * converted by the migration.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CONNECTION_STEPS, type ConnectionEvent, type UnnumberedConnectionEvent } from '../../apps/shared/connection-events.ts';
import { ConnectionEventStore, STEP_NUMBERS, type ConnectionEventTable } from '../../apps/shared/connections/connection-event-store.ts';
import { migrationsDir, openDatabase } from '../../apps/shared/storage/open-database.ts';
import { migratePostgres } from '../../apps/shared/storage/migrate-postgres.ts';
import { PostgresDatabase } from '../../apps/shared/storage/postgres-database.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { migrateSqlite, SqliteDatabase } from '../../apps/shared/storage/sqlite-database.ts';
import { testDatabaseSettings, TEST_BACKENDS } from '../helpers/test-database.ts';
import { waitFor } from '../helpers/wait-for.ts';

const TABLES: Array<{ table: ConnectionEventTable; values: string; app: 'auth-server' | 'resource-server'; converts: string }> = [
  { table: 'connection_events', values: 'connection_values', app: 'auth-server', converts: '_connection_values.sql' },
  { table: 'mcp_connection_events', values: 'mcp_connection_values', app: 'resource-server', converts: '_connection_values.sql' },
];

function event(at: number, fields: Partial<UnnumberedConnectionEvent> = {}): UnnumberedConnectionEvent {
  return {
    at, app: 'auth-server', step: 'authorization', outcome: 'ok',
    clientId: 'client-a', accountId: 'user-1', ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0',
    redirectUri: 'https://claude.ai/api/mcp/auth_callback', resource: 'https://mcp.example.com/mcp', scope: 'mcp:read', flowId: 'flow', grantId: 'grant',
    ...fields,
  };
}

/** The event as read back, without its id (given by the table): what was stored, with the reading app's name. */
function asRead(stored: UnnumberedConnectionEvent, app: string): UnnumberedConnectionEvent {
  return { ...stored, app: app as ConnectionEvent['app'] };
}

function withoutIds(events: ConnectionEvent[]): UnnumberedConnectionEvent[] {
  return events.map(({ id: _id, ...rest }) => rest);
}

async function withDatabase(backend: string, app: 'auth-server' | 'resource-server', fn: (db: SqlDatabase) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-conn-values-'));
  const db = await openDatabase(await testDatabaseSettings(backend as 'sqlite', join(dir, `${app}.db`)), app);
  try {
    await fn(db);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const backend of TEST_BACKENDS) {
  for (const { table, values, app, converts } of TABLES) describe(`connection values: ${table} (${backend})`, () => {
    test('a value repeated from event to event is stored once, and every event reads it back whole', async () => {
      await withDatabase(backend, app, async (db) => {
        const store = new ConnectionEventStore(db, table);
        const events = [event(1000), event(1001, { step: 'consent' }), event(1002, { step: 'redirect', clientId: 'client-b', scope: undefined })];
        await store.insertMany(events);
        await store.insertMany([event(1003, { step: 'refresh' })]);
        const stored = await db.all<{ value: string }>(`SELECT value FROM ${values} ORDER BY value`);
        assert.deepEqual(stored.map((row) => row.value), [
          '203.0.113.7', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0', 'client-a', 'client-b', 'grant', 'https://claude.ai/api/mcp/auth_callback',
          'https://mcp.example.com/mcp', 'mcp:read', 'user-1',
        ]);
        const read = withoutIds(await store.read({ limit: 10 }));
        assert.deepEqual(read.slice(0, 3), events.map((e) => asRead(e, read[0]!.app)).map(({ scope, ...rest }) => (scope === undefined ? rest : { ...rest, scope })));
        assert.deepEqual((await store.read({ clientId: 'client-b', limit: 10 })).map((e) => e.step), ['redirect']);
        assert.deepEqual((await store.read({ accountId: 'user-1', limit: 10 })).map((e) => e.step), ['authorization', 'consent', 'redirect', 'refresh']);
      });
    });

    test('every step is stored as its own number and read back by name; a grant id is stored once and read back in each event', async () => {
      assert.equal(new Set(Object.values(STEP_NUMBERS)).size, CONNECTION_STEPS.length, 'no two steps share a number');
      await withDatabase(backend, app, async (db) => {
        const store = new ConnectionEventStore(db, table);
        const events = CONNECTION_STEPS.map((step, i) => event(1000 + i, { step, grantId: 'P68Rg79lIU7PEoYTQpooVh_eJUR9cywXPe91BJay0AU' }));
        await store.insertMany(events);
        assert.deepEqual((await store.read({ limit: 100 })).map((e) => [e.step, e.grantId]), events.map((e) => [e.step, e.grantId]));
        const stored = await db.all<{ step_number: number }>(`SELECT step_number FROM ${table} ORDER BY seq`);
        assert.deepEqual(stored.map((row) => Number(row.step_number)), CONNECTION_STEPS.map((step) => STEP_NUMBERS[step]));
        assert.equal(Number((await db.get<{ n: number }>(`SELECT count(*) AS n FROM ${values} WHERE value = 'P68Rg79lIU7PEoYTQpooVh_eJUR9cywXPe91BJay0AU'`))!.n), 1);
      });
    });

    test('the prune deletes the values no event left uses, keeps those still used, and a value used again is stored again', async () => {
      await withDatabase(backend, app, async (db) => {
        const store = new ConnectionEventStore(db, table);
        await store.insertMany([event(1000, { clientId: 'old-client', userAgent: 'old agent' }), event(2000, { clientId: 'new-client' })]);
        await store.prune({ olderThan: 1500, maxEvents: 1000 });
        const left = async () => (await db.all<{ value: string }>(`SELECT value FROM ${values}`)).map((row) => row.value);
        assert.ok(!(await left()).includes('old-client') && !(await left()).includes('old agent'), `values of pruned events go: ${await left()}`);
        assert.ok((await left()).includes('new-client') && (await left()).includes('user-1'), 'values still used stay');
        assert.deepEqual((await store.read({ limit: 10 })).map((e) => [e.clientId, e.userAgent]), [['new-client', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0']]);

        await store.insertMany([event(3000, { clientId: 'old-client' })]);
        assert.deepEqual((await store.read({ clientId: 'old-client', limit: 10 })).map((e) => e.at), [3000]);
      });
    });

    // Replicas share the values table: each batch numbers its values in one statement, which locks
    // every row it inserts or stamps until the batch commits. Two replicas' batches naming the same
    // values in another order (one saw client b's events first, the other client a's) must not
    // each hold what the other waits for.
    if (backend === 'postgres') test('two replicas writing, at the same moment, batches that name the same values in opposite orders: both are stored', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-conn-values-'));
      const settings = await testDatabaseSettings(backend, join(dir, `${app}.db`));
      const [first, second] = await Promise.all([openDatabase(settings, app), openDatabase(settings, app)]);
      try {
        // Fields stored in the values table in the order client, user, address (SHARED).
        const only = (at: number, clientId: string, accountId: string, ip: string): UnnumberedConnectionEvent => ({ at, app, step: 'authorization', outcome: 'ok', clientId, accountId, ip });
        // A third writer holds one value of each batch, so each batch has taken its first value
        // and waits in the middle of its statement when the holder lets go.
        let release!: () => void;
        const released = new Promise<void>((resolve) => { release = resolve; });
        let holding!: () => void;
        const held = new Promise<void>((resolve) => { holding = resolve; });
        const holder = first.transaction(async (tx) => {
          await tx.run(`INSERT INTO ${values} (value, last_at) VALUES ('held by one', 1), ('held by two', 1)`);
          holding();
          await released;
        });
        await held;
        const writes = Promise.allSettled([
          new ConnectionEventStore(first, table).insertMany([only(2000, 'client-b', 'held by one', 'client-a')]),
          new ConnectionEventStore(second, table).insertMany([only(2001, 'client-a', 'held by two', 'client-b')]),
        ]);
        await waitFor('both batches waiting for the holder', async () =>
          Number((await first.get<{ n: number }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))!.n) === 2);
        release();
        await holder;
        const outcomes = await writes;
        assert.deepEqual(outcomes.map((outcome) => (outcome.status === 'rejected' ? String(outcome.reason) : 'stored')), ['stored', 'stored']);
        assert.deepEqual((await new ConnectionEventStore(first, table).read({ limit: 10 })).map((e) => [e.clientId, e.accountId, e.ip]),
          [['client-b', 'held by one', 'client-a'], ['client-a', 'held by two', 'client-b']]);
      } finally {
        await first.close();
        await second.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('events stored before the values table are converted by its migration and read back the same', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-conn-values-'));
      const before = join(dir, 'before');
      mkdirSync(before);
      const all = migrationsDir(backend === 'postgres' ? 'postgres' : 'sqlite', app);
      for (const file of readdirSync(all).filter((name) => name.endsWith('.sql') && !name.endsWith(converts))) {
        if (file > readdirSync(all).find((name) => name.endsWith(converts))!) continue;
        copyFileSync(join(all, file), join(before, file));
      }
      const settings = await testDatabaseSettings(backend as 'sqlite', join(dir, `${app}.db`));
      const db = settings.postgres ? new PostgresDatabase(settings.postgres) : new SqliteDatabase(settings.sqliteFile);
      const migrate = (from: string) => (db instanceof PostgresDatabase ? migratePostgres(db, app, from) : migrateSqlite(db, from));
      try {
        await migrate(before);
        // Every step, each stored by name before and by number after (STEP_NUMBERS).
        const old = [event(1000), event(1001, { clientId: 'client-b', ip: undefined, step: 'consent' }), event(1002, { step: 'refresh' }),
          ...CONNECTION_STEPS.map((step, i) => event(1003 + i, { step }))];
        for (const [i, e] of old.entries()) {
          await db.run(`INSERT INTO ${table} (id, at, step, outcome, client_id, account_id, flow_id, grant_id, ip, user_agent, redirect_uri, resource, scope)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [`random-id-${i}`, e.at, e.step, e.outcome, e.clientId!, e.accountId!, e.flowId!, e.grantId!, e.ip ?? null, e.userAgent!, e.redirectUri!, e.resource!, e.scope!]);
        }
        await migrate(all);
        const read = withoutIds(await new ConnectionEventStore(db, table).read({ limit: 100 }));
        assert.deepEqual(read, old.map((e) => asRead(e, read[0]!.app)).map(({ ip, ...rest }) => (ip === undefined ? rest : { ...rest, ip })));
        assert.equal(Number((await db.get<{ n: number }>(`SELECT count(*) AS n FROM ${values}`))!.n), 9, 'each distinct value once');
      } finally {
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
