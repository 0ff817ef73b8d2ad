/**
 * Two auth-server replicas on one PostgreSQL database (issue 14): what an admin does through one
 * reaches the other. A grant revoked or a user disabled through A, or a grant the provider on A
 * ends after a refresh token reuse, is in B's revocation feed by the time A answers (so resource
 * servers following either refuse the tokens); a redirect URI allowed through A is
 * accepted by Dynamic Client Registration on B within ALLOW_LIST_REFRESH_MS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALLOW_LIST_REFRESH_MS } from '../../apps/auth-server/src/management/allow-list-snapshot.ts';
import { revocationValue, type RevocationFeedPage } from '../../apps/shared/revocation-entry.ts';
import { connect, redeem, refresh, register, registerClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { createTestPostgresDatabase } from '../helpers/test-database.ts';
import { waitFor } from '../helpers/wait-for.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };

describe('two auth-server replicas on one PostgreSQL database', () => {
  let a: TestAuthServer;
  let b: TestAuthServer;

  const feedOf = async (server: TestAuthServer, after = 0): Promise<RevocationFeedPage> => {
    const response = await fetch(`${server.issuer}/oauth/revocations?after=${after}`);
    assert.equal(response.status, 200);
    return await response.json() as RevocationFeedPage;
  };

  before(async () => {
    const databaseUrl = await createTestPostgresDatabase();
    a = await startAuthServer({ databaseUrl });
    b = await startAuthServer({ databaseUrl });
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  test('both serve one feed', async () => {
    const [fromA, fromB] = await Promise.all([feedOf(a), feedOf(b)]);
    assert.equal(fromA.feed, fromB.feed);
  });

  test('a grant revoked through A is in B\'s feed when the revocation returns', async () => {
    const client = await registerClient(a.issuer);
    const tokens = await redeem(a.issuer, client, await connect(a.issuer, {
      clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD,
    }));
    assert.equal(tokens.status, 200);
    const [grant] = await a.auth.admin.grants.list({ clientId: client.client_id });
    const { next } = await feedOf(b);
    assert.equal(await a.auth.admin.grants.revoke(grant!.grantId, BY, 'test'), true);
    const page = await feedOf(b, next);
    assert.deepEqual(page.entries.map((e) => [e.kind, e.value]), [['grant', revocationValue('grant', grant!.grantId)]]);
  });

  test('a refresh token reused on A: B\'s feed lists the grant by the time A answers', async () => {
    const client = await registerClient(a.issuer);
    const tokens = await redeem(a.issuer, client, await connect(a.issuer, {
      clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD,
    }));
    const first = tokens.body.refresh_token as string;
    const [grant] = await a.auth.admin.grants.list({ clientId: client.client_id });
    assert.equal((await refresh(a.issuer, client, first)).status, 200);
    const { next } = await feedOf(b);
    assert.equal((await refresh(a.issuer, client, first)).status, 400, 'reuse ends the grant');
    const page = await feedOf(b, next);
    assert.deepEqual(page.entries.map((e) => [e.kind, e.value]), [['grant', revocationValue('grant', grant!.grantId)]]);
  });

  test('a user disabled through A is in B\'s feed when the change returns', async () => {
    const user = await a.auth.admin.users.create({ username: 'dana', password: 'dana password 1234', scopes: ['mcp:read'] }, BY);
    const { next } = await feedOf(b);
    await a.auth.admin.users.disable(user.id, BY);
    const page = await feedOf(b, next);
    assert.ok(page.entries.some((e) => e.kind === 'sub' && e.value === revocationValue('sub', user.id)), JSON.stringify(page.entries));
  });

  test(`a redirect URI allowed through A is accepted by registration on B within ${ALLOW_LIST_REFRESH_MS} ms`, async () => {
    const body = { client_name: 'Replica app', redirect_uris: ['https://replica-app.example/cb'], grant_types: ['authorization_code'], token_endpoint_auth_method: 'none' };
    assert.equal((await register(b.issuer, body)).status, 400, 'not allowed yet');
    await a.auth.admin.redirectUris.add('https://replica-app.example/cb', BY);
    assert.equal((await register(a.issuer, body)).status, 201, 'on A at once');
    // The bound plus room for a loaded machine; B never accepts it without following the table.
    await waitFor('registration on B to accept the URI', async () => (await register(b.issuer, body)).status === 201, ALLOW_LIST_REFRESH_MS + 2000, 250);
  });
});
