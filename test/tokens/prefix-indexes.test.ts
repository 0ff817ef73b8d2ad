/**
 * Grant ids, and grants' account and client ids, are looked up through indexes on their first 8
 * characters (apps/auth-server/src/provider/prefix-index.ts): ids that share those characters
 * are still told apart, whatever they are.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { Adapter } from 'oidc-provider';
import { createDatabaseAdapter } from '../../apps/auth-server/src/provider/database-adapter.ts';
import { ModelStore } from '../../apps/auth-server/src/provider/model-store.ts';
import { openAuthDatabase, type TestAuthDatabase } from '../helpers/open-auth-database.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { TestClock } from '../helpers/test-clock.ts';

/** Two of each, the same first 8 characters (and a non-ASCII one, which SQL counts by character). */
const GRANTS = ['éèabcdefGRANT-one', 'éèabcdefGRANT-two'];
const ACCOUNTS = ['aaaaaaaa-1111-4111-8111-111111111111', 'aaaaaaaa-2222-4222-8222-222222222222'];
const CLIENTS = ['https://apps.example.com/one', 'https://apps.example.com/two'];

for (const backend of TEST_BACKENDS) describe(`ids that share a prefix (${backend})`, () => {
  let database: TestAuthDatabase;
  let grants: Adapter;
  let refreshTokens: Adapter;
  let store: ModelStore;
  const clock = new TestClock();

  beforeEach(async () => {
    database = await openAuthDatabase(backend);
    const Adapter = createDatabaseAdapter(database.db, clock);
    grants = new Adapter('Grant');
    refreshTokens = new Adapter('RefreshToken');
    store = new ModelStore(database.db, clock);
    const iat = clock.epochSeconds();
    for (const i of [0, 1]) {
      await grants.upsert(GRANTS[i]!, { iat, exp: iat + 3600, accountId: ACCOUNTS[i], clientId: CLIENTS[i], kind: 'Grant', jti: GRANTS[i], openid: { scope: 'openid' } }, 3600);
      await refreshTokens.upsert(`refresh-${i}`, { iat, exp: iat + 3600, grantId: GRANTS[i], accountId: ACCOUNTS[i], clientId: CLIENTS[i], kind: 'RefreshToken', jti: `refresh-${i}` }, 3600);
    }
  });
  afterEach(() => database?.close());

  test('revoking one grant leaves the other, its tokens with it', async () => {
    await refreshTokens.revokeByGrantId(GRANTS[0]!);
    assert.equal(await refreshTokens.find('refresh-0'), undefined);
    assert.equal(await grants.find(GRANTS[0]!), undefined, 'the provider revoking its tokens ends the grant');
    assert.equal((await refreshTokens.find('refresh-1'))?.grantId, GRANTS[1]);
    assert.equal((await grants.find(GRANTS[1]!))?.jti, GRANTS[1]);
    assert.equal(await store.deleteGrant(GRANTS[1]!), true);
    assert.equal(await refreshTokens.find('refresh-1'), undefined);
  });

  test("an account's or a client's grants are only its own", async () => {
    for (const i of [0, 1]) {
      assert.deepEqual((await store.grants({ accountId: ACCOUNTS[i] })).map((g) => g.grantId), [GRANTS[i]]);
      assert.deepEqual(await store.grantIds({ clientId: CLIENTS[i] }), [GRANTS[i]]);
      assert.deepEqual(await store.grantIds({ accountId: ACCOUNTS[i], clientId: CLIENTS[i] }), [GRANTS[i]]);
    }
    assert.deepEqual(await store.grantIds({ accountId: ACCOUNTS[0], clientId: CLIENTS[1] }), []);
  });

  test("a grant's last refresh is its own tokens'", async () => {
    await refreshTokens.consume('refresh-1');
    const listed = new Map((await store.grants()).map((g) => [g.grantId, g.lastRefreshAt]));
    assert.equal(listed.get(GRANTS[0]!), null);
    assert.notEqual(listed.get(GRANTS[1]!), null);
  });
});
