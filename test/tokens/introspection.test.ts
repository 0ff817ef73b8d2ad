/**
 * /oauth/introspect (RFC 7662) with real clients and real tokens: who may see a token (§2.1, §4),
 * and that a token the server does not know — a JWT access token among them — is answered
 * 200 `{"active": false}` (§2.2), never an error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { CLAUDE_DCR_BODY, connect, redeem, register, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const RESOURCE = 'http://localhost:4001/mcp';

interface Caller { client_id: string; client_secret?: string }

describe('introspection: who may see a token', () => {
  let server: TestAuthServer;
  let owner: RegisteredClient;
  let otherDcr: RegisteredClient;
  let resourceServer: Caller;
  let plainStatic: Caller;
  let tokens: { access_token: string; refresh_token: string };

  async function introspect(caller: Caller | undefined, params: Record<string, string>) {
    const body = new URLSearchParams({ ...params, ...(caller ? { client_id: caller.client_id } : {}), ...(caller?.client_secret ? { client_secret: caller.client_secret } : {}) });
    const response = await fetch(`${server.issuer}/oauth/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    return { status: response.status, body: await response.json() as Record<string, unknown> };
  }

  async function staticClient(name: string, resourceServerFlag: boolean): Promise<Caller> {
    const created = await server.auth.admin.clients.createStatic({
      name, redirectUris: ['https://rs.example/cb'], authMethod: 'client_secret_post', resourceServer: resourceServerFlag,
    }, CLI);
    return { client_id: created.clientId, client_secret: created.clientSecret };
  }

  before(async () => {
    server = await startAuthServer();
    const confidential = { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_post' };
    owner = await registerClient(server.issuer, confidential);
    otherDcr = await registerClient(server.issuer, confidential);
    resourceServer = await staticClient('MCP resource server', true);
    plainStatic = await staticClient('Some static app', false);
    const result = await connect(server.issuer, { clientId: owner.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    const redeemed = await redeem(server.issuer, owner, result, { client_secret: owner.client_secret! });
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    tokens = redeemed.body as typeof tokens;
  });
  after(() => server.close());

  test('the client the token was issued to sees it', async () => {
    const own = await introspect(owner, { token: tokens.refresh_token });
    assert.equal(own.status, 200);
    assert.equal(own.body.active, true);
    assert.equal(own.body.client_id, owner.client_id);
  });

  test('a resource server registered for the token\'s resource sees another client\'s token', async () => {
    const seen = await introspect(resourceServer, { token: tokens.refresh_token });
    assert.equal(seen.status, 200);
    assert.equal(seen.body.active, true);
    assert.equal(seen.body.client_id, owner.client_id);
    assert.equal(seen.body.sub, server.auth.users.findByUsername('admin')!.id);
  });

  test('any other confidential client gets {"active": false}: another DCR client, a static client that is no resource server', async () => {
    for (const [label, caller] of [['another DCR client', () => otherDcr], ['a static client without the flag', () => plainStatic]] as const) {
      const answer = await introspect(caller(), { token: tokens.refresh_token });
      assert.equal(answer.status, 200, label);
      assert.deepEqual(answer.body, { active: false }, label);
    }
  });

  test('a client cannot make itself a resource server by registering with the flag', async () => {
    for (const value of [RESOURCE, true, [RESOURCE]]) {
      const response = await register(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_post', gatehouse_resource_server: value });
      const registered = await response.json() as RegisteredClient;
      assert.equal(response.status, 201, JSON.stringify(registered));
      assert.equal(registered.gatehouse_resource_server, undefined, JSON.stringify(value));
      assert.deepEqual((await introspect(registered, { token: tokens.refresh_token })).body, { active: false }, JSON.stringify(value));
    }
  });

  test('a resource server marked for another resource (RESOURCE_URL changed since) sees nothing', async () => {
    const stale = await staticClient('Old resource server', false);
    await server.auth.database.run("UPDATE oidc_models SET payload = json_set(payload, '$.gatehouse_resource_server', 'https://old.example/mcp') WHERE model = 'Client' AND id = ?", [stale.client_id]);
    assert.deepEqual((await introspect(stale, { token: tokens.refresh_token })).body, { active: false });
  });

  test('an admin cannot mark a public client as resource server', async () => {
    await assert.rejects(() => server.auth.admin.clients.createStatic({ name: 'public rs', redirectUris: ['https://rs.example/cb'], authMethod: 'none', resourceServer: true }, CLI), (err: Error & { error_description?: string }) => /confidential/.test(err.error_description ?? ''));
  });

  describe('a token the server does not know is inactive, whatever its type hint (RFC 7662 §2.2)', () => {
    const hints = [undefined, 'access_token', 'refresh_token', 'urn:ietf:params:oauth:token-type:access_token', 'id_token', 'no_such_hint'];
    for (const hint of hints) {
      test(`a real JWT access token${hint ? ` with token_type_hint=${hint}` : ' without token_type_hint'}: 200 {"active": false}`, async () => {
        for (const caller of [owner, resourceServer]) {
          const answer = await introspect(caller, { token: tokens.access_token, ...(hint ? { token_type_hint: hint } : {}) });
          assert.equal(answer.status, 200, JSON.stringify(answer.body));
          assert.deepEqual(answer.body, { active: false });
        }
      });
    }

    test('random and malformed tokens: 200 {"active": false}', async () => {
      for (const token of ['opaque-but-unknown', 'a.b.c', `${tokens.access_token.split('.').slice(0, 2).join('.')}.forged`, 'x'.repeat(2000)]) {
        const answer = await introspect(owner, { token });
        assert.equal(answer.status, 200, token.slice(0, 40));
        assert.deepEqual(answer.body, { active: false }, token.slice(0, 40));
      }
    });

    test('a JWT does not get past client authentication: a wrong secret is still 401 invalid_client', async () => {
      const answer = await introspect({ client_id: owner.client_id, client_secret: 'wrong' }, { token: tokens.access_token });
      assert.equal(answer.status, 401);
      assert.equal(answer.body.error, 'invalid_client');
    });
  });
});
