/**
 * Purging unused registrations after a flood (ClientRegistry#purgeUnused, `gatehouse clients
 * purge-unused`), on both backends: thousands of registrations that never obtained a token go in
 * small transactions, each with the `clients.purged` record naming every registration it deleted
 * (bounded in size) and a revocation feed entry per client; used registrations and static clients
 * stay, and so does one that obtains its first token while the purge runs.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AuditLog } from '../../apps/auth-server/src/audit/audit-log.ts';
import { ClientRegistry } from '../../apps/auth-server/src/management/client-registry.ts';
import { GrantRegistry } from '../../apps/auth-server/src/management/grant-registry.ts';
import { ClientUsage } from '../../apps/auth-server/src/provider/client-usage.ts';
import { insertClient } from '../../apps/auth-server/src/provider/database-adapter.ts';
import { CLIENT_KIND } from '../../apps/auth-server/src/registration/client-metadata-policy.ts';
import { ModelStore } from '../../apps/auth-server/src/provider/model-store.ts';
import { RevocationFeed } from '../../apps/auth-server/src/revocation/revocation-feed.ts';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import type { SqlDatabase, SqlExecutor } from '../../apps/shared/storage/sql-database.ts';
import { makeCliDir, runCli } from '../cli/support/cli-runner.ts';
import { openAuthDatabase } from '../helpers/open-auth-database.ts';
import { TEST_KEY_ENCRYPTION_KEY } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS, testDatabaseSettings } from '../helpers/test-database.ts';

const FLOOD = 2000;
const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };

/** What Dynamic Client Registration stores for a client such as Claude, with a random id as the provider draws one. */
function registration(clientId = randomBytes(32).toString('base64url')): [string, Record<string, unknown>] {
  return [clientId, {
    client_id: clientId,
    client_name: 'Claude',
    client_id_issued_at: Math.floor(Date.now() / 1000),
    redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    application_type: 'web',
  }];
}

/** Stores `count` registrations pending first use (as a registration leaves them), in one transaction; their ids. */
async function storeUnused(db: SqlDatabase, count: number): Promise<string[]> {
  const ids: string[] = [];
  const expiresAt = Math.floor(Date.now() / 1000) + 3600;
  await db.transaction(async (tx) => {
    for (let i = 0; i < count; i++) {
      const [clientId, metadata] = registration();
      assert.ok(await insertClient(tx, clientId, metadata));
      await tx.run("UPDATE oidc_models SET expires_at = ? WHERE model = 'Client' AND id = ?", [expiresAt, clientId]);
      ids.push(clientId);
    }
  });
  return ids;
}

/** Every `clients.purged` record, oldest first. */
async function purgeRecords(db: SqlDatabase): Promise<Array<{ count: number; client_ids: string[]; size: number }>> {
  const records = await new AuditLog(db, { retention: 3600, maxEvents: 100_000 }).query({ event: 'clients.purged', limit: 1000 });
  return records.reverse().map((record) => ({ ...(record.details as { count: number; client_ids: string[] }), size: JSON.stringify(record.details).length }));
}

for (const backend of TEST_BACKENDS) describe(`purging unused registrations after a flood (${backend})`, () => {
  test(`${FLOOD} unused registrations go, each named in a clients.purged record of at most 25; used and static clients stay; the CLI says how many`, { timeout: 180_000 }, async () => {
    const dir = makeCliDir('gatehouse-purge-unused-');
    const settings = await testDatabaseSettings(backend, join(dir, 'data', 'auth-server.db'));
    const db = await openDatabase(settings, 'auth-server');
    try {
      const models = new ModelStore(db);
      const flood = await storeUnused(db, FLOOD);
      // A registration that obtained its first token (its expiry cleared), and an administrator's client.
      const [usedId, usedMetadata] = registration();
      await models.addClient(usedId, usedMetadata);
      const [staticId, staticMetadata] = registration('static-app');
      await models.addClient(staticId, { ...staticMetadata, [CLIENT_KIND]: 'static' });

      const env: Record<string, string> = settings.postgres ? { DATABASE_URL: settings.postgres.url, GATEHOUSE_KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY } : {};
      const result = await runCli(dir, ['clients', 'purge-unused'], '', env);
      assert.equal(result.stderr, '');
      assert.equal(result.stdout, `deleted ${FLOOD} unused registration(s)\n`);
      assert.equal(result.code, 0);

      const left = new Set((await models.clients()).map((client) => client.clientId));
      assert.deepEqual(flood.filter((id) => left.has(id)), [], 'every unused registration is gone');
      assert.ok(left.has(usedId) && left.has(staticId), 'the used registration and the static client stay');

      const records = await purgeRecords(db);
      for (const record of records) {
        assert.ok(record.client_ids.length >= 1 && record.client_ids.length <= 25, `a record names ${record.client_ids.length}`);
        assert.equal(record.count, record.client_ids.length, 'a record names every registration it counts');
        assert.ok(record.size < 2000, `a record of ${record.size} characters`);
      }
      const named = records.flatMap((record) => record.client_ids);
      assert.equal(named.length, FLOOD, 'each purged registration is named once');
      assert.deepEqual(new Set(named), new Set(flood));

      const entries = await db.get<{ n: number }>("SELECT count(*) AS n FROM revocations WHERE kind = 'client'");
      assert.equal(Number(entries!.n), FLOOD, 'each purged client is on the revocation feed');
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a registration that obtains its first token while earlier batches are purged stays, and is in no record', async () => {
    const database = await openAuthDatabase(backend);
    try {
      const { db } = database;
      const models = new ModelStore(db);
      const flood = await storeUnused(db, 60);
      let kept: string | undefined;
      // After the first batch commits, one still pending gets its first token (as on another replica).
      let transactions = 0;
      const watched = new Proxy(db, {
        get(target, property) {
          if (property === 'transaction') {
            return async <T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> => {
              const result = await target.transaction(fn);
              if (++transactions === 1) {
                kept = (await models.clients()).find((client) => client.expiresAt !== null)?.clientId;
                assert.ok(kept, 'registrations still pending after the first batch');
                await models.keepClient(kept);
              }
              return result;
            };
          }
          const value: unknown = Reflect.get(target, property);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
      const audit = new AuditLog(db, { retention: 3600, maxEvents: 100_000 });
      const revocations = new RevocationFeed(db, { tokenLifetime: 3600 });
      const registry = new ClientRegistry(
        watched, models, new ClientUsage(db), new GrantRegistry(db, models, audit, revocations), audit,
        () => assert.fail('no metadata is validated'), 'https://mcp.example.com/mcp', revocations, 'https://auth.example.com',
      );

      assert.equal(await registry.purgeUnused(BY), flood.length - 1);
      assert.deepEqual((await models.clients()).map((client) => client.clientId), [kept]);
      const named = (await purgeRecords(db)).flatMap((record) => record.client_ids);
      assert.deepEqual(new Set(named), new Set(flood.filter((id) => id !== kept)));
      assert.equal(transactions, 3, 'three batches of at most 25');
    } finally {
      await database.close();
    }
  });
});
