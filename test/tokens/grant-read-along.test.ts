/**
 * A code or refresh token is read together with its grant, in one statement, and the provider's
 * next lookup of that grant in the same request is answered from that read (issue 15: one SELECT
 * less per refresh grant). What it must not change: a grant that is gone or expired still ends
 * the chain, and concurrent requests each get their own grant.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { storedId } from '../../apps/auth-server/src/provider/stored-form.ts';
import { storedModel } from '../../apps/auth-server/src/provider/stored-model.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { connect, redeem, refresh, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';

const RESOURCE = 'http://localhost:4001/mcp';

/** Records the provider models each read of `oidc_models` by id asks for (`get` with a `@model`, or a code's or token's join). */
function recordModelReads(database: SqlDatabase): { reads: string[] } {
  const recorded = { reads: [] as string[] };
  const get = database.get.bind(database);
  database.get = ((sql: string, params?: unknown) => {
    if (/FROM oidc_models/.test(sql)) {
      const join = /WHERE t\.model = '(\w+)'/.exec(sql)?.[1];
      const model = join ?? (params as { model?: string } | undefined)?.model;
      if (model !== undefined) recorded.reads.push(join ? `${model}+grant` : model);
    }
    return get(sql, params as never);
  }) as SqlDatabase['get'];
  return recorded;
}

for (const backend of TEST_BACKENDS) describe(`a grant read along with its code or refresh token (${backend})`, () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  let recorded: { reads: string[] };
  /** What the last code exchange of `signedIn` read. */
  let codeExchangeReads: string[] = [];
  const clock = new TestClock();

  before(async () => {
    server = await startAuthServer({ backend, clock });
    client = await registerClient(server.issuer);
    recorded = recordModelReads(server.auth.database);
  });
  after(() => server?.close());

  async function signedIn(username = 'admin', password = ADMIN_PASSWORD): Promise<{ refreshToken: string; grantId: string }> {
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username, password });
    recorded.reads.length = 0;
    const tokens = await redeem(server.issuer, client, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    codeExchangeReads = [...recorded.reads];
    const refreshToken = tokens.body.refresh_token as string;
    const row = await server.auth.database.get<{ grant_id: string }>('SELECT grant_id FROM oidc_models WHERE model = ? AND id = ?', [storedModel('RefreshToken'), storedId('RefreshToken', refreshToken)]);
    return { refreshToken, grantId: row!.grant_id };
  }

  test('a code exchange reads the database twice, its client and then its code with its grant', async () => {
    await signedIn();
    assert.deepEqual(codeExchangeReads, [storedModel('Client'), `${storedModel('AuthorizationCode')}+grant`]);
  });

  // The client was read by a refresh grant within CLIENT_FRESH_MS (our clock stands still), so it
  // comes from memory (recent-clients.ts): the one read is the token with its grant.

  test('a refresh grant reads the database once, its token with its grant, and rotates as before', async () => {
    const { refreshToken } = await signedIn();
    // The client's first refresh grant reads it (a code exchange does not keep it).
    const warm = await refresh(server.issuer, client, refreshToken);
    assert.equal(warm.status, 200, JSON.stringify(warm.body));
    recorded.reads.length = 0;
    const first = await refresh(server.issuer, client, warm.body.refresh_token as string);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(recorded.reads, [`${storedModel('RefreshToken')}+grant`]);
    const admin = (await server.auth.users.findByUsername('admin'))!;
    assert.deepEqual([decodeJwt(first.body.access_token as string).sub, decodeJwt(first.body.access_token as string).scope], [admin.id, 'mcp:read']);
    const second = await refresh(server.issuer, client, first.body.refresh_token as string);
    assert.equal(second.status, 200, 'the rotated token works');
    assert.equal((await refresh(server.issuer, client, refreshToken)).status, 400, 'the first one, used again, is refused');
  });

  test('a grant that expired (on our clock) while its refresh token did not ends the chain', async () => {
    const { refreshToken, grantId } = await signedIn();
    await server.auth.database.run('UPDATE oidc_models SET expires_at = ? WHERE model = ? AND id = ?', [clock.epochSeconds() - 1, storedModel('Grant'), grantId]);
    const response = await refresh(server.issuer, client, refreshToken);
    assert.equal(response.status, 400, JSON.stringify(response.body));
    assert.equal(response.body.error, 'invalid_grant');
  });

  test('a grant deleted after its token was issued ends the chain', async () => {
    const { refreshToken, grantId } = await signedIn();
    await server.auth.database.run('DELETE FROM oidc_models WHERE model = ? AND id = ?', [storedModel('Grant'), grantId]);
    const response = await refresh(server.issuer, client, refreshToken);
    assert.equal(response.status, 400, JSON.stringify(response.body));
    assert.equal(response.body.error, 'invalid_grant');
  });

  test('refreshes of many users at once each get their own grant: the user and scope of their own token', async () => {
    const people = ['amara', 'bo', 'chen', 'dita', 'emil', 'fen'];
    const chains: Array<{ id: string; refreshToken: string }> = [];
    for (const name of people) {
      const created = await server.auth.users.create({ username: name, passwordHash: await server.auth.hasher.hash(`${name} password 12`), scopes: ['mcp:read'] });
      chains.push({ id: created!.id, refreshToken: (await signedIn(name, `${name} password 12`)).refreshToken });
    }
    for (let round = 0; round < 3; round += 1) {
      const responses = await Promise.all(chains.map((chain) => refresh(server.issuer, client, chain.refreshToken)));
      responses.forEach((response, i) => {
        assert.equal(response.status, 200, JSON.stringify(response.body));
        assert.equal(decodeJwt(response.body.access_token as string).sub, chains[i]!.id, `${people[i]}'s token is ${people[i]}'s`);
        chains[i]!.refreshToken = response.body.refresh_token as string;
      });
    }
  });
});
