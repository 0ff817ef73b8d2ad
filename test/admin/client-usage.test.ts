/**
 * When each client last obtained tokens (provider/client-usage.ts), accurate to a minute: a use
 * within the minute after the stored one sends no statement; a later one, or one after an admin
 * forgot the client, is stored. Two handles on one database stand for two replicas.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ClientUsage, RESOLUTION_MS } from '../../apps/auth-server/src/provider/client-usage.ts';
import { CLIENT_KIND } from '../../apps/auth-server/src/registration/client-metadata-policy.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { openAuthDatabase, type TestAuthDatabase } from '../helpers/open-auth-database.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { TestClock } from '../helpers/test-clock.ts';

const T0 = 1_800_000_000_000;

/** `db`, counting the statements sent through it. */
function counting(db: SqlDatabase): { db: SqlDatabase; statements: () => number } {
  let statements = 0;
  const counted = Object.create(db) as SqlDatabase;
  for (const method of ['run', 'get', 'all'] as const) {
    counted[method] = ((sql: string, params?: never) => {
      statements += 1;
      return db[method](sql, params);
    }) as never;
  }
  return { db: counted, statements: () => statements };
}

for (const backend of TEST_BACKENDS) describe(`client usage (${backend})`, () => {
  let database: TestAuthDatabase;
  const clock = new TestClock(T0);
  const client = { clientId: 'https://app.example/client.json', metadata: () => ({ [CLIENT_KIND]: 'cimd', client_name: 'App', redirect_uris: ['https://app.example/cb'] }) };

  beforeEach(async () => {
    database = await openAuthDatabase(backend);
  });
  afterEach(() => database?.close());

  test('a use within the minute after the stored one sends no statement; the first use after it is stored', async () => {
    const registered = { clientId: 'registered-client', metadata: () => ({ [CLIENT_KIND]: 'dcr' }) };
    const { db, statements } = counting(database.db);
    const usage = new ClientUsage(db, clock);
    await usage.record(registered, T0);
    const afterFirst = statements();
    await usage.record(registered, T0 + 1_000);
    await usage.record(registered, T0 + RESOLUTION_MS - 1);
    assert.equal(statements(), afterFirst, 'nothing sent within the minute');
    await usage.record(registered, T0 + RESOLUTION_MS);
    assert.equal(statements(), afterFirst + 1);
    const use = (await usage.all()).get(registered.clientId);
    assert.deepEqual(use && [use.firstUsedAt, use.lastUsedAt], [T0, T0 + RESOLUTION_MS]);
  });

  test('a metadata-document client\'s use is sent each time (another replica may have deleted its row), and stored once a minute', async () => {
    const { db, statements } = counting(database.db);
    const usage = new ClientUsage(db, clock);
    await usage.record(client, T0);
    const afterFirst = statements();
    await usage.record(client, T0 + 1_000);
    assert.equal(statements(), afterFirst + 1, 'sent within the minute');
    let use = (await usage.all()).get(client.clientId);
    assert.deepEqual(use && [use.firstUsedAt, use.lastUsedAt, use.clientName], [T0, T0, 'App'], 'the row is not changed within the minute');
    await database.db.run('DELETE FROM client_usage WHERE client_id = ?', [client.clientId]); // another replica's forget
    await usage.record(client, T0 + 2_000);
    use = (await usage.all()).get(client.clientId);
    assert.deepEqual(use && [use.firstUsedAt, use.lastUsedAt], [T0 + 2_000, T0 + 2_000], 'stored again at once');
  });

  test('a client an admin forgot is stored again at its next use, even within the minute', async () => {
    const usage = new ClientUsage(database.db, clock);
    await usage.record(client, T0);
    await usage.forget(client.clientId);
    await usage.record(client, T0 + 1_000);
    const use = (await usage.all()).get(client.clientId);
    assert.deepEqual(use && [use.firstUsedAt, use.lastUsedAt], [T0 + 1_000, T0 + 1_000]);
  });

  test('a use stored by another replica within the minute is not overwritten with an older one', async () => {
    const usageA = new ClientUsage(database.db, clock);
    const usageB = new ClientUsage(await database.reopen(), clock);
    await usageA.record(client, T0);
    await usageB.record(client, T0 + RESOLUTION_MS + 5_000);
    await usageA.record(client, T0 + RESOLUTION_MS + 1_000);
    assert.equal((await usageA.all()).get(client.clientId)?.lastUsedAt, T0 + RESOLUTION_MS + 5_000);
  });
});
