/**
 * Connection events stay bounded (apps/shared/connections/prune-connection-events.ts): older
 * than `connections.retention` they go, and beyond `connections.max_events` the oldest go; on
 * both backends and both apps' tables, with a moved clock instead of sleeping.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConnectionEventStore, type ConnectionEventTable } from '../../apps/shared/connections/connection-event-store.ts';
import { createConnectionMetrics } from '../../apps/shared/connections/connection-metrics.ts';
import { DatabaseConnectionRecorder } from '../../apps/shared/connections/connection-recorder.ts';
import { pruneConnectionEvents } from '../../apps/shared/connections/prune-connection-events.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { createMetricsRegistry } from '../../apps/shared/metrics.ts';
import { openDatabase, type AppName } from '../../apps/shared/storage/open-database.ts';
import { testDatabaseSettings, TEST_BACKENDS } from '../helpers/test-database.ts';
import { TestClock } from '../helpers/test-clock.ts';

const DAY = 86400;
const TABLES: Array<[AppName, ConnectionEventTable]> = [['auth-server', 'connection_events'], ['resource-server', 'mcp_connection_events']];

for (const backend of TEST_BACKENDS) {
  for (const [app, table] of TABLES) {
    describe(`pruning ${table} (${backend})`, () => {
      async function open() {
        const dir = mkdtempSync(join(tmpdir(), 'gatehouse-prune-'));
        const db = await openDatabase(await testDatabaseSettings(backend, join(dir, `${app}.db`)), app);
        const clock = new TestClock(Date.UTC(2026, 11, 1, 12));
        const store = new ConnectionEventStore(db, table);
        const recorder = new DatabaseConnectionRecorder({
          store, app, clock, logger: createLogger('test', 'silent'), metrics: createConnectionMetrics(createMetricsRegistry(app)),
        });
        const record = async (clientId: string) => {
          recorder.record({ step: 'authorization', outcome: 'ok', clientId });
          await recorder.flush();
        };
        const clients = async () => (await store.read({ limit: 100 })).map((event) => event.clientId);
        return {
          store, clock, record, clients,
          async close() {
            await db.close();
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }

      test('events older than the retention go, younger ones stay', async () => {
        const { store, clock, record, clients, close } = await open();
        await record('old-1');
        await record('old-2');
        clock.advance(6 * DAY);
        await record('recent');
        clock.advance(1 * DAY + 1);
        const prune = pruneConnectionEvents(store, { retention: 7 * DAY, maxEvents: 1000 }, clock);
        assert.equal(await prune(), 2);
        assert.deepEqual(await clients(), ['recent']);
        assert.equal(await prune(), 0, 'nothing more to delete');
        await close();
      });

      test('beyond max_events the oldest go, the newest stay', async () => {
        const { store, clock, record, clients, close } = await open();
        for (const client of ['a', 'b', 'c', 'd', 'e']) {
          await record(client);
          clock.advance(1);
        }
        assert.equal(await pruneConnectionEvents(store, { retention: 7 * DAY, maxEvents: 3 }, clock)(), 2);
        assert.deepEqual(await clients(), ['c', 'd', 'e']);
        await close();
      });
    });
  }
}
