/**
 * What an `invalid_scope` refusal quotes of the scope it refuses: at most 200 characters, then
 * `…`. The provider (refresh grant) and our grants (client credentials, ID-JAG, token exchange)
 * put the refused scopes in the answer's `scope` member, and a scope token may be any length: a
 * 15,000-character request came back whole, 15,000 characters of JSON, to the client and to
 * whatever logs its answers. At /oauth/authorize nothing long is echoed: the provider ignores
 * scopes it does not know and names at most one it does; those rows guard that the error
 * redirect stays short.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { authorizeUrl, clientSecretBasic, connect, redeem, refresh, registerClient, tokenRequest, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_RESOURCE } from '../helpers/test-issuer.ts';

const LONG_TOKEN = 'x'.repeat(15_000);
const MANY_TOKENS = Array.from({ length: 1_500 }, (_, i) => `s${i}`).join(' ');

const HOSTILE_SCOPES: Array<[string, string]> = [
  ['one 15,000-character scope', `mcp:read ${LONG_TOKEN}`],
  ['1,500 short scopes', `mcp:read ${MANY_TOKENS}`],
  ['a long scope after short ones', `mcp:read a b c ${LONG_TOKEN}`],
];

describe('what an invalid_scope refusal quotes of the scope', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  let refreshToken: string;
  let service: { clientId: string; clientSecret: string };

  before(async () => {
    server = await startAuthServer();
    client = await registerClient(server.issuer);
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: TEST_RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    const tokens = await redeem(server.issuer, client, result);
    refreshToken = tokens.body.refresh_token as string;
    const created = await server.auth.admin.serviceAccounts.create({ name: 'Scope job', authMethod: 'client_secret_basic', scopes: ['mcp:read'] }, CLI);
    service = { clientId: created.clientId, clientSecret: created.clientSecret! };
  });
  after(async () => {
    await server?.close();
  });

  function assertCutEcho(body: Record<string, unknown>, requested: string, what: string): void {
    assert.equal(body.error, 'invalid_scope', what);
    const echoed = body.scope;
    assert.equal(typeof echoed, 'string', what);
    assert.ok((echoed as string).length <= 201, `${what}: ${(echoed as string).length} characters echoed`);
    assert.ok((echoed as string).endsWith('…'), `${what}: marked as cut`);
    assert.ok(requested.includes((echoed as string).slice(0, -1)), `${what}: the start of what was refused`);
    assert.ok(JSON.stringify(body).length < 400, `${what}: the whole answer stays short`);
  }

  for (const [what, scope] of HOSTILE_SCOPES) {
    test(`a refresh grant asking for ${what} is refused quoting at most 200 characters of it`, async () => {
      const answer = await refresh(server.issuer, client, refreshToken, { scope });
      assert.equal(answer.status, 400);
      assertCutEcho(answer.body, scope, what);
    });

    test(`a service account asking for ${what.replace('mcp:read ', '')} is refused quoting at most 200 characters of it`, async () => {
      const requested = scope.replace('mcp:read ', '');
      const answer = await tokenRequest(server.issuer, { grant_type: 'client_credentials', resource: TEST_RESOURCE, scope: requested }, clientSecretBasic(service.clientId, service.clientSecret));
      assert.equal(answer.status, 400);
      // The service account names the first scope it refuses; only a long one is cut.
      if (requested.split(' ')[0]!.length > 200) assertCutEcho(answer.body, requested, what);
      else assert.equal(answer.body.scope, requested.split(' ')[0], what);
    });

    test(`an authorization request asking for ${what} keeps its redirect short`, async () => {
      const response = await fetch(authorizeUrl(server.issuer, { clientId: client.client_id, scope: `${scope} mcp:admin\u0001`, resource: TEST_RESOURCE }, createPkce().challenge), { redirect: 'manual' });
      assert.equal(response.status, 303);
      const location = new URL(response.headers.get('location')!);
      assert.equal(location.searchParams.get('error'), 'invalid_scope');
      assert.ok(location.href.length < 500, `${location.href.length} characters`);
    });
  }

  test('a short refused scope is quoted whole', async () => {
    const answer = await refresh(server.issuer, client, refreshToken, { scope: 'mcp:read made-up' });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.scope, 'made-up');
  });
});
