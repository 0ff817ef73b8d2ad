/**
 * A grant records what the user granted on the consent page, within their own scopes: an unticked
 * scope, or one the user does not have, is not granted, in the grant, its refresh token, the admin
 * pages' grant lists, or the scope changes that revoke grants holding a removed scope.
 *
 * The provider knows the MCP scopes as scopes too, so a request's mcp:* came back to the consent
 * handler as missing OpenID scopes as well, and were all added there: every requested scope was
 * recorded as granted. Access tokens still carried only the granted ones (they are cut to the
 * resource's scopes), but the records were wrong, and adding a scope to a user revoked every grant
 * of theirs whose client had asked for a scope they lacked (Claude asks for all of them).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, redeem, refresh, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };

describe('what a consent grants', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  let resource: string;
  before(async () => {
    server = await startAuthServer();
    client = await registerClient(server.issuer);
    resource = server.config.authServer.resource;
    await server.auth.admin.users.create({ username: 'rita', password: 'rita password 12', scopes: ['mcp:read'] }, BY);
  });
  after(() => server?.close());

  async function grantOf(username: string, password: string, scope: string, approveScopes?: string[]) {
    const flow = await connect(server.issuer, { clientId: client.client_id, scope, resource, username, password, approveScopes });
    const tokens = await redeem(server.issuer, client, flow);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const refreshToken = tokens.body.refresh_token as string;
    const stored = await server.auth.provider.RefreshToken.find(refreshToken);
    const user = (await server.auth.users.findByUsername(username))!;
    const [listed] = (await server.auth.admin.grants.list({ accountId: user.id })).filter((g) => g.grantId === stored!.grantId);
    return { refreshToken, tokenScope: stored!.scope!.split(' ').sort(), listed: listed!.scopes.filter((s) => s.startsWith('mcp:')).sort() };
  }

  test('a scope unticked on the consent page is granted nowhere, and asking for it at refresh is invalid_scope', async () => {
    const granted = await grantOf('admin', ADMIN_PASSWORD, 'mcp:read mcp:write', ['mcp:read']);
    assert.deepEqual(granted.tokenScope, ['mcp:read'], 'the refresh token');
    assert.deepEqual(granted.listed, ['mcp:read'], 'the admin pages\' grant list');
    const asked = await refresh(server.issuer, client, granted.refreshToken, { scope: 'mcp:write' });
    assert.equal(asked.status, 400, JSON.stringify(asked.body));
    assert.equal(asked.body.error, 'invalid_scope');
    const again = await refresh(server.issuer, client, granted.refreshToken);
    assert.equal(again.status, 200, 'refused before anything was used up');
  });

  test('a scope the user does not have is granted nowhere; adding one to the user leaves their apps connected', async () => {
    const granted = await grantOf('rita', 'rita password 12', 'mcp:read mcp:write mcp:admin');
    assert.deepEqual(granted.tokenScope, ['mcp:read']);
    assert.deepEqual(granted.listed, ['mcp:read']);
    const { grantsRevoked } = await server.auth.admin.users.setScopes('rita', ['mcp:read', 'mcp:write'], BY);
    assert.equal(grantsRevoked, 0, 'adding mcp:write revokes nothing');
    const removed = await server.auth.admin.users.setScopes('rita', ['mcp:read'], BY);
    assert.equal(removed.grantsRevoked, 0, 'nor does taking back a scope the grant never held');
    const refreshed = await refresh(server.issuer, client, granted.refreshToken);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  });

  test('a refresh that would hand out no scope (the user\'s were cut since) is invalid_scope, and the refresh token is kept', async () => {
    await server.auth.admin.users.create({ username: 'cleo', password: 'cleo password 12', scopes: ['mcp:read', 'mcp:write'] }, BY);
    const granted = await grantOf('cleo', 'cleo password 12', 'mcp:read mcp:write');
    const cleo = (await server.auth.users.findByUsername('cleo'))!;
    // Cut as a config file's change does at the next start: in the store, no grant revoked.
    await server.auth.users.update(cleo.id, { scopes: ['mcp:admin'] });
    const refused = await refresh(server.issuer, client, granted.refreshToken);
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error, 'invalid_scope');
    await server.auth.users.update(cleo.id, { scopes: ['mcp:write'] });
    const narrowed = await refresh(server.issuer, client, granted.refreshToken, { scope: 'mcp:read' });
    assert.equal(narrowed.body.error, 'invalid_scope', 'asking only for the scope cut is refused too');
    const kept = await refresh(server.issuer, client, granted.refreshToken);
    assert.equal(kept.status, 200, `the refresh token was not used up by the refusals: ${JSON.stringify(kept.body)}`);
    assert.equal(kept.body.scope, 'mcp:write', 'what the user may still grant');
  });

  test('a grant recorded before (MCP scopes in its OpenID part) is listed by what its resource holds', async () => {
    const user = (await server.auth.users.findByUsername('rita'))!;
    const grant = new server.auth.provider.Grant({ accountId: user.id, clientId: client.client_id });
    grant.addOIDCScope('openid mcp:read mcp:write mcp:admin');
    grant.addResourceScope(resource, 'mcp:read');
    const grantId = await grant.save();
    const [listed] = (await server.auth.admin.grants.list({ accountId: user.id })).filter((g) => g.grantId === grantId);
    assert.deepEqual(listed!.scopes.filter((s) => s.startsWith('mcp:')), ['mcp:read']);
  });
});
