/**
 * `mode: builtin` switches federated sign-in off, not only its buttons: with an upstream still
 * listed under `auth_server.federated`, a start posted with a valid CSRF token from the sign-in
 * page sends nobody to the upstream, and the callbacks are not served, so no upstream sign-in can
 * end in a session here. Boot warns that the listed upstreams are unused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { servingWarnings } from '../../apps/shared/serving-warnings.ts';
import { Browser, formAction, inputValue } from '../helpers/browser.ts';
import { authorizeUrl, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/start-upstream-idp.ts';

const RESOURCE = 'http://localhost:4001/mcp';

describe('federated sign-in in builtin mode', () => {
  let idp: UpstreamIdp;
  let server: TestAuthServer;
  let client: RegisteredClient;

  before(async () => {
    idp = await startUpstreamIdp({ 'alice@example.com': { email: 'alice@example.com', email_verified: true } });
    server = await startAuthServer({
      configure(config) {
        config.authServer.mode = 'builtin';
        config.authServer.upstreams = [{
          id: 'test-idp', displayName: 'Test IdP', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret,
          scopes: ['openid', 'email'], allowedDomains: ['example.com'], allowedEmails: [], newUsers: 'allow',
          defaultScopes: ['mcp:read'], adminUsers: [], adminScopes: ['mcp:read'], timeout: 5,
        }];
      },
    });
    await idp.allowClient(`${server.issuer}/oauth/callback/test-idp`);
    client = await registerClient(server.issuer);
  });
  after(async () => {
    await server?.close();
    await idp?.close();
  });

  test('a start posted with a valid CSRF token from the sign-in page is refused, and nobody is sent to the upstream', async () => {
    const browser = new Browser(server.issuer, [idp.issuer]);
    const signInPage = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
    assert.match(signInPage.html, /name="password"/, 'the password form');
    assert.doesNotMatch(signInPage.html, /Sign in with Test IdP/, 'no upstream button');
    // The password form's action is /interaction/<uid>/login; the start would be beside it.
    const start = formAction(signInPage.html).replace(/\/login$/, '/federated/test-idp');
    assert.match(start, /^\/interaction\/[^/]+\/federated\/test-idp$/);
    const response = await browser.request(new URL(start, signInPage.url), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: inputValue(signInPage.html, 'csrf')! }),
    });
    assert.ok([400, 404].includes(response.status), `refused, got ${response.status} → ${response.headers.get('location')}`);
    assert.equal(response.headers.get('location'), null, 'no redirect to the upstream');
    assert.deepEqual(idp.requests.filter((r) => r.startsWith('GET /auth')), [], 'the upstream saw no authorization request');
  });

  for (const path of ['/oauth/callback/test-idp', '/oauth/callback']) {
    test(`the callback ${path} is not served`, async () => {
      const response = await fetch(`${server.issuer}${path}?code=some-code&state=some-state&iss=${encodeURIComponent(idp.issuer)}`, { redirect: 'manual' });
      assert.equal(response.status, 404, await response.text());
      assert.deepEqual(idp.requests.filter((r) => r === 'POST /token'), [], 'no code is redeemed at the upstream');
    });
  }

  test('boot warns that the listed upstreams are unused', () => {
    const warnings = servingWarnings(server.config, 'auth-server');
    assert.ok(warnings.some((w) => /auth_server\.federated lists test-idp, but auth_server\.mode is builtin: federated sign-in is off/.test(w)), warnings.join('\n'));
    const both = { ...server.config, authServer: { ...server.config.authServer, mode: 'both' as const } };
    assert.deepEqual(servingWarnings(both, 'auth-server').filter((w) => /auth_server\.federated/.test(w)), [], 'no such warning when the upstreams are used');
  });
});
