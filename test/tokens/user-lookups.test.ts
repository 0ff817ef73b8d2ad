/**
 * A token request looks its user up once (accounts/find-user-once.ts): the scope policy,
 * findAccount, the access token's claims and the audit event's actor share that answer, and
 * the next request asks again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { connect, redeem, refresh, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';

const RESOURCE = 'http://localhost:4001/mcp';

for (const backend of TEST_BACKENDS) describe(`user lookups on the token path (${backend})`, () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  let lookups: string[];

  before(async () => {
    server = await startAuthServer({ backend });
    client = await registerClient(server.issuer);
    const { users } = server.auth;
    const findById = users.findById.bind(users);
    lookups = [];
    users.findById = (id) => {
      lookups.push(id);
      return findById(id);
    };
  });
  after(() => server?.close());

  async function signedIn(username: string, password: string): Promise<string> {
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read mcp:write', resource: RESOURCE, username, password });
    return (await redeem(server.issuer, client, result)).body.refresh_token as string;
  }

  test('a refresh grant reads its user once, and its token and audit event still carry the user', async () => {
    const refreshToken = await signedIn('admin', ADMIN_PASSWORD);
    const admin = (await server.auth.users.findByUsername('admin'))!;
    lookups.length = 0;
    const response = await refresh(server.issuer, client, refreshToken);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    await server.auth.admin.audit.flush();
    assert.deepEqual(lookups, [admin.id], 'one lookup for the scope policy, findAccount, the claims and the audit actor');
    const claims = decodeJwt(response.body.access_token as string);
    assert.deepEqual([claims.sub, claims.preferred_username, claims.scope], [admin.id, 'admin', 'mcp:read mcp:write']);
    const [event] = await server.auth.admin.audit.query({ event: 'token.refreshed', limit: 1 });
    assert.deepEqual([event?.actor, event?.actorId], ['admin', admin.id]);
  });

  test('the next request looks again: a scope taken away between two refreshes is gone from the next token', async () => {
    const created = await server.auth.users.create({ username: 'noor', passwordHash: await server.auth.hasher.hash('noor password 12'), scopes: ['mcp:read', 'mcp:write'] });
    const first = await refresh(server.issuer, client, await signedIn('noor', 'noor password 12'));
    assert.equal(decodeJwt(first.body.access_token as string).scope, 'mcp:read mcp:write');
    await server.auth.users.update(created!.id, { scopes: ['mcp:read'] });
    const second = await refresh(server.issuer, client, first.body.refresh_token as string);
    assert.equal(decodeJwt(second.body.access_token as string).scope, 'mcp:read');
    await server.auth.users.update(created!.id, { disabled: true });
    assert.equal((await refresh(server.issuer, client, second.body.refresh_token as string)).status, 400, 'a disabled user gets no more tokens');
  });
});
