/**
 * A request to the auth-server's OAuth endpoints with more than one Authorization header is
 * refused with 400 invalid_request (RFC 6749 §2.3, §5.2; RFC 6750 §3.1), whatever the headers
 * hold, and nothing runs as the first header's client: Node keeps only the first one, so
 * without the refusal a token was introspected, revoked or refreshed as whoever came first.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLAUDE_DCR_BODY, clientSecretBasic, connect, registerClient, tokenRequest, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const FORM = 'application/x-www-form-urlencoded';
const REFUSAL = { error: 'invalid_request', error_description: 'the request carries more than one Authorization header' };

describe('more than one Authorization header at the OAuth endpoints', () => {
  let server: TestAuthServer;
  let alice: RegisteredClient;
  let bob: RegisteredClient;
  let tokens: { access_token: string; refresh_token: string };
  const basic = (client: RegisteredClient) => clientSecretBasic(client.client_id, client.client_secret!).authorization!;

  before(async () => {
    server = await startAuthServer();
    const confidential = { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_basic' };
    alice = await registerClient(server.issuer, confidential);
    bob = await registerClient(server.issuer, confidential);
    const flow = await connect(server.issuer, { clientId: alice.client_id, scope: 'mcp:read', resource: server.config.authServer.resource, username: 'admin', password: ADMIN_PASSWORD });
    const redeemed = await tokenRequest(server.issuer, {
      grant_type: 'authorization_code', code: flow.code, code_verifier: flow.verifier, redirect_uri: flow.redirectUri,
    }, { authorization: basic(alice) });
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    tokens = redeemed.body as typeof tokens;
  });
  after(() => server.close());

  const post = (path: string, authorization: string[], body: string) =>
    rawRequest(server.issuer, { method: 'POST', path, headers: { 'content-type': FORM, authorization }, body });
  const introspect = (authorization: string[]) => post('/oauth/introspect', authorization, `token=${tokens.refresh_token}`);

  const pairs: Array<[string, () => string[]]> = [
    ['the client\'s own, then junk', () => [basic(alice), 'Basic junk']],
    ['junk, then the client\'s own', () => ['Basic junk', basic(alice)]],
    ['the same credentials twice', () => [basic(alice), basic(alice)]],
    ['two clients\' credentials', () => [basic(alice), basic(bob)]],
    ['the other client first', () => [basic(bob), basic(alice)]],
    ['Basic, then a Bearer token', () => [basic(alice), `Bearer ${tokens.access_token}`]],
  ];

  for (const [what, headers] of pairs) {
    test(`introspection with ${what}: 400 invalid_request, the token is not shown`, async () => {
      const answer = await introspect(headers());
      assert.equal(answer.status, 400, answer.body);
      assert.deepEqual(JSON.parse(answer.body), REFUSAL);
      assert.equal(answer.headers['cache-control'], 'no-store');
    });
  }

  test('a refresh grant with two Authorization headers is refused and does not consume the refresh token', async () => {
    for (const [what, headers] of pairs) {
      const answer = await post('/oauth/token', headers(), `grant_type=refresh_token&refresh_token=${tokens.refresh_token}`);
      assert.equal(answer.status, 400, `${what}: ${answer.body}`);
      assert.deepEqual(JSON.parse(answer.body), REFUSAL, what);
    }
    assert.equal(JSON.parse((await introspect([basic(alice)])).body).active, true, 'the refresh token is still the current one');
  });

  test('a revocation with two Authorization headers is refused and revokes nothing', async () => {
    for (const path of ['/oauth/revoke', '/OAUTH/REVOKE/']) {
      const answer = await post(path, [basic(alice), basic(alice)], `token=${tokens.refresh_token}`);
      assert.equal(answer.status, 400, `${path}: ${answer.body}`);
      assert.deepEqual(JSON.parse(answer.body), REFUSAL, path);
    }
    assert.equal(JSON.parse((await introspect([basic(alice)])).body).active, true, 'the refresh token is not revoked');
  });

  test('the registration endpoint refuses two bearer headers the same way', async () => {
    const answer = await rawRequest(server.issuer, { path: `/oauth/register/${alice.client_id}`, headers: { authorization: ['Bearer a', 'Bearer b'] } });
    assert.equal(answer.status, 400, answer.body);
    assert.deepEqual(JSON.parse(answer.body), REFUSAL);
  });

  test('one Authorization header is served as before', async () => {
    const answer = await introspect([basic(alice)]);
    assert.equal(answer.status, 200, answer.body);
    assert.equal(JSON.parse(answer.body).client_id, alice.client_id);
  });
});
