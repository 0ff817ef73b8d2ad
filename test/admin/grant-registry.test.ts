/**
 * GrantRegistry over its real database on both backends, where what it does to the database is
 * the point: revoking no grants (a user without any holding a removed scope) opens no
 * transaction, so it never waits for another writer (SQLite's BEGIN IMMEDIATE takes the write lock).
 * Revocations end to end: test/revocation/.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { AuditLog } from '../../apps/auth-server/src/audit/audit-log.ts';
import { GrantRegistry } from '../../apps/auth-server/src/management/grant-registry.ts';
import { ModelStore } from '../../apps/auth-server/src/provider/model-store.ts';
import { RevocationFeed } from '../../apps/auth-server/src/revocation/revocation-feed.ts';
import type { SqlDatabase, SqlExecutor } from '../../apps/shared/storage/sql-database.ts';
import { openAuthDatabase, type TestAuthDatabase } from '../helpers/open-auth-database.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';

const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };

/** `db`, counting the transactions opened on it. */
function countingTransactions(db: SqlDatabase): { db: SqlDatabase; opened(): number } {
  let opened = 0;
  const counted = new Proxy(db, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (property === 'transaction') {
        return <R>(fn: (tx: SqlExecutor) => Promise<R>) => {
          opened += 1;
          return target.transaction(fn);
        };
      }
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { db: counted, opened: () => opened };
}

for (const backend of TEST_BACKENDS) {
  describe(`the grant registry's database work (${backend})`, () => {
    let database: TestAuthDatabase;

    beforeEach(async () => {
      database = await openAuthDatabase(backend);
    });
    afterEach(() => database?.close());

    test('revoking no grants opens no transaction; revoking one, even one already gone, opens one', async () => {
      const counting = countingTransactions(database.db);
      const { db } = counting;
      const grants = new GrantRegistry(db, new ModelStore(db), new AuditLog(db, { retention: 3600, maxEvents: 1000 }), new RevocationFeed(db, { tokenLifetime: 3600 }));
      assert.equal(await grants.revokeMany([], BY, 'nothing held the scope'), 0);
      assert.equal(counting.opened(), 0);
      assert.equal(await grants.revokeMany(['no-such-grant'], BY, 'already gone'), 0);
      assert.equal(counting.opened(), 1, 'the count sees a transaction');
    });
  });
}
