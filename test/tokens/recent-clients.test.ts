/**
 * A client read within CLIENT_FRESH_MS answers the provider's next lookups from memory
 * (apps/auth-server/src/provider/recent-clients.ts): one SELECT less per token request. What it must
 * not change: a change made in this process is seen by the next request at once; one made
 * elsewhere (another replica, the CLI: here, a statement on the database behind the server's back)
 * within CLIENT_FRESH_MS; an expired registration is refused as soon as it expires.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { ModelStore } from '../../apps/auth-server/src/provider/model-store.ts';
import { CLIENT_FRESH_MS } from '../../apps/auth-server/src/provider/recent-clients.ts';
import { connect, redeem, refresh, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';

const RESOURCE = 'http://localhost:4001/mcp';

for (const backend of TEST_BACKENDS) describe(`clients read from memory for ${CLIENT_FRESH_MS} ms (${backend})`, () => {
  let server: TestAuthServer;
  const clock = new TestClock();

  before(async () => {
    server = await startAuthServer({ backend, clock });
  });
  after(() => server?.close());

  /** A change made in this process, as the admin pages and the registration expiry make it. */
  const models = () => new ModelStore(server.auth.database, clock, () => undefined);

  /** Our clock at the start of its next whole second (expiries are whole seconds). */
  const toWholeSecond = () => clock.advance((1000 - (clock.now() % 1000)) / 1000);

  /**
   * A registered client with a refresh token, its client row just read from the database by a
   * refresh (the code exchange's first token kept the registration, a change to its row).
   */
  async function signedIn(): Promise<{ client: RegisteredClient; refreshToken: string }> {
    const client = await registerClient(server.issuer);
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    const tokens = await redeem(server.issuer, client, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const refreshed = await refresh(server.issuer, client, tokens.body.refresh_token as string);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    return { client, refreshToken: refreshed.body.refresh_token as string };
  }

  test('a client deleted elsewhere is refused once CLIENT_FRESH_MS has passed since it was read', async () => {
    const { client, refreshToken } = await signedIn();
    // As another replica or the CLI would: the row goes, this server is not told.
    await server.auth.database.run("DELETE FROM oidc_models WHERE model = 'Client' AND id = ?", [client.client_id]);

    const within = await refresh(server.issuer, client, refreshToken);
    assert.equal(within.status, 200, `within the bound the client still answers from memory: ${JSON.stringify(within.body)}`);

    clock.advance(CLIENT_FRESH_MS / 1000);
    const past = await refresh(server.issuer, client, within.body.refresh_token as string);
    assert.equal(past.status, 401, JSON.stringify(past.body));
    assert.equal(past.body.error, 'invalid_client');
  });

  test('a client deleted by an administrator here is refused by the very next request', async () => {
    const { client, refreshToken } = await signedIn();
    await server.auth.admin.clients.remove(client.client_id, CLI);
    const next = await refresh(server.issuer, client, refreshToken);
    assert.equal(next.status, 401, JSON.stringify(next.body));
    assert.equal(next.body.error, 'invalid_client');
  });

  test('a client whose row changed here is read again at once', async () => {
    const { client, refreshToken } = await signedIn();
    // An expiry set in this process (as for a registration pending first use), already passed.
    await models().expireClientAt(client.client_id, clock.epochSeconds() - 1);
    const next = await refresh(server.issuer, client, refreshToken);
    assert.equal(next.status, 401, JSON.stringify(next.body));
    assert.equal(next.body.error, 'invalid_client');
  });

  test('a client kept in memory is refused once its expiry passes, before the copy is stale', async () => {
    const { client, refreshToken } = await signedIn();
    toWholeSecond();
    await models().expireClientAt(client.client_id, clock.epochSeconds() + 1);
    clock.advance(0.5);
    // Read from the database by this request, with its expiry, half a second before it.
    const before = await refresh(server.issuer, client, refreshToken);
    assert.equal(before.status, 200, JSON.stringify(before.body));
    // 0.7 s later the copy is still fresh, and the expiry has passed.
    clock.advance(0.7);
    const expired = await refresh(server.issuer, client, before.body.refresh_token as string);
    assert.equal(expired.status, 401, JSON.stringify(expired.body));
    assert.equal(expired.body.error, 'invalid_client');
  });
});
