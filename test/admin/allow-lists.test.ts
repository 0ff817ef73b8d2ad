/**
 * The three allow-lists (redirect URIs, private-use schemes, trusted CIMD hosts) on both backends:
 * adding, removing and listing beside the config file's entries, the audit event each change
 * writes with it, and the snapshot the provider's synchronous validator reads, which follows
 * changes made here at once and changes made by another replica within ALLOW_LIST_REFRESH_MS.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { AuditLog } from '../../apps/auth-server/src/audit/audit-log.ts';
import { AdminError } from '../../apps/auth-server/src/management/admin-error.ts';
import { createRedirectSchemeAllowList, createRedirectUriAllowList, createTrustedHostList } from '../../apps/auth-server/src/management/allow-list.ts';
import { ALLOW_LIST_REFRESH_MS, AllowListSnapshot } from '../../apps/auth-server/src/management/allow-list-snapshot.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { openAuthDatabase, type TestAuthDatabase } from '../helpers/open-auth-database.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { waitFor } from '../helpers/wait-for.ts';

const CONFIGURED = 'https://claude.ai/api/mcp/auth_callback';
const BY = { actor: { name: 'alice', id: 'u-alice' }, ip: '192.0.2.7' };

for (const backend of TEST_BACKENDS) {
  describe(`allow-lists (${backend})`, () => {
    let database: TestAuthDatabase;
    let audit: AuditLog;
    const clock = new TestClock();
    const redirectUris = (db: SqlDatabase = database.db) => createRedirectUriAllowList(db, [CONFIGURED], new AuditLog(db, { retention: 3600, maxEvents: 1000 }, clock), clock);
    const snapshots: AllowListSnapshot[] = [];
    const errors: unknown[] = [];

    beforeEach(async () => {
      database = await openAuthDatabase(backend);
      audit = new AuditLog(database.db, { retention: 3600, maxEvents: 1000 }, clock);
    });
    afterEach(async () => {
      for (const snapshot of snapshots.splice(0)) snapshot.stop();
      await database?.close();
      assert.deepEqual(errors.splice(0), [], 'no snapshot reload failed');
    });

    test('lists the config file\'s entries beside the added ones, and the database decides what is effective', async () => {
      const list = redirectUris();
      assert.equal(await list.add(' https://app.example/cb ', BY), true);
      assert.equal(await list.add('https://app.example/cb', BY), false, 'already on the list');
      assert.equal(await list.add(CONFIGURED, BY), false, 'the config file has it');
      assert.deepEqual(await list.list(), [
        { value: 'https://app.example/cb', source: 'admin', builtInDefault: false, addedBy: 'alice', addedAt: clock.now() },
        { value: CONFIGURED, source: 'config', builtInDefault: false },
      ]);
      assert.deepEqual([...await list.effective()].sort(), ['https://app.example/cb', CONFIGURED]);
      await list.remove('https://app.example/cb', BY);
      assert.deepEqual([...await list.effective()], [CONFIGURED]);
    });

    test('each change writes its audit event with it; a refused change writes none', async () => {
      const schemes = createRedirectSchemeAllowList(database.db, [], audit, clock);
      const hosts = createTrustedHostList(database.db, ['claude.ai'], audit, clock);
      await schemes.add('MyApp:', BY);
      await hosts.add('Example.com:8443', BY);
      await hosts.remove('example.com:8443', BY);
      await assert.rejects(hosts.remove('example.com:8443', BY), (err) => err instanceof AdminError && err.status === 404);
      await assert.rejects(hosts.remove('claude.ai', BY), (err) => err instanceof AdminError && err.status === 409);
      await assert.rejects(schemes.add('javascript', BY), (err) => err instanceof AdminError && err.status === 400);
      const events = (await audit.query()).reverse();
      assert.deepEqual(events.map((e) => [e.event, e.actor, e.actorId, e.ip, e.details]), [
        ['redirect_scheme.allowed', 'alice', 'u-alice', '192.0.2.7', { scheme: 'myapp' }],
        ['trusted_host.added', 'alice', 'u-alice', '192.0.2.7', { host: 'example.com:8443' }],
        ['trusted_host.removed', 'alice', 'u-alice', '192.0.2.7', { host: 'example.com:8443' }],
      ]);
      assert.deepEqual([...await schemes.effective()], ['myapp']);
    });

    test('the snapshot shows a change made through this process as soon as the change returns', async () => {
      const list = redirectUris();
      const snapshot = await AllowListSnapshot.follow(list, { onError: (err) => errors.push(err), refreshIntervalMs: 3_600_000 });
      snapshots.push(snapshot);
      assert.deepEqual([...snapshot.current()], [CONFIGURED]);
      await list.add('https://local.example/cb', BY);
      assert.ok(snapshot.current().has('https://local.example/cb'));
      await list.remove('https://local.example/cb', BY);
      assert.equal(snapshot.current().has('https://local.example/cb'), false);
    });

    test(`the snapshot shows a change made by another replica within ${ALLOW_LIST_REFRESH_MS} ms`, async () => {
      const here = redirectUris();
      const snapshot = await AllowListSnapshot.follow(here, { onError: (err) => errors.push(err) });
      snapshots.push(snapshot);
      const elsewhere = redirectUris(await database.reopen());
      await elsewhere.add('https://replica.example/cb', BY);
      // The bound plus room for a loaded machine: without the periodic reload this never happens.
      await waitFor('the other replica\'s entry in the snapshot', () => snapshot.current().has('https://replica.example/cb'), ALLOW_LIST_REFRESH_MS + 2000, 20);
      await elsewhere.remove('https://replica.example/cb', BY);
      await waitFor('the removal in the snapshot', () => !snapshot.current().has('https://replica.example/cb'), ALLOW_LIST_REFRESH_MS + 2000, 20);
    });
  });
}
