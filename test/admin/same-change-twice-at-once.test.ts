/**
 * The same change to a user sent twice at once (a double click, two admins, two replicas): both
 * requests read the user as it was, and each disabled (or enabled) it and published and audited
 * that, so the log showed two `user.disabled` for one. Reproduced by a review on two replicas;
 * two requests on one server race the same way. The change is now made only while it is not
 * made yet, inside its transaction, and the request that finds it made publishes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';

const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };

for (const backend of TEST_BACKENDS) describe(`disable and enable sent twice at once (${backend})`, () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer({ backend });
  });
  after(() => server?.close());

  test('each is made and audited once; both requests answer with the user as it now is', async () => {
    const users = server.auth.admin.users;
    const { id } = await users.create({ username: 'dave', password: 'dave password 1234', scopes: ['mcp:read'] }, BY);
    const recorded = async (event: string) => (await server.auth.admin.audit.query({ event })).filter((e) => e.details.user_id === id).length;

    const disabled = await Promise.all([users.disable({ id }, BY), users.disable({ id }, BY)]);
    assert.deepEqual(disabled.map((result) => result.user.disabled), [true, true]);
    assert.equal(await recorded('user.disabled'), 1);
    assert.equal((await server.auth.users.findById(id))?.disabled, true);

    const enabled = await Promise.all([users.enable({ id }, BY), users.enable({ id }, BY)]);
    assert.deepEqual(enabled.map((user) => user.disabled), [false, false]);
    assert.equal(await recorded('user.enabled'), 1);
    assert.equal((await server.auth.users.findById(id))?.disabled, false);
  });
});
