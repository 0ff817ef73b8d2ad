/**
 * A fresh sign-in asked of Gatehouse (prompt=login: the admin pages' re-authentication) is asked
 * of the upstream too, so a federated admin re-authenticates there instead of passing on the
 * upstream's SSO session (OIDC Core §3.1.2.1). An ordinary sign-in leaves the upstream's choice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser, inputValue } from '../helpers/browser.ts';
import { authorizeUrl, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/start-upstream-idp.ts';

const RESOURCE = 'http://localhost:4001/mcp';

describe('federated sign-in and re-authentication', () => {
  let idp: UpstreamIdp;
  let server: TestAuthServer;
  let client: RegisteredClient;

  before(async () => {
    idp = await startUpstreamIdp({ 'admin@example.com': { email: 'admin@example.com', email_verified: true } });
    server = await startAuthServer({
      configure(config) {
        config.authServer.mode = 'both';
        config.authServer.upstreams = [{
          id: 'test-idp', displayName: 'Test IdP', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret,
          scopes: ['openid', 'email'], allowedDomains: ['example.com'], allowedEmails: [], newUsers: 'allow',
          defaultScopes: ['mcp:read'], adminUsers: ['admin@example.com'], adminScopes: ['mcp:read', 'mcp:admin'], timeout: 5,
        }];
      },
    });
    await idp.allowClient(`${server.issuer}/oauth/callback`);
    client = await registerClient(server.issuer);
  });
  after(async () => {
    await server?.close();
    await idp?.close();
  });

  async function upstreamRequest(extra: Record<string, string>): Promise<URL> {
    const browser = new Browser(server.issuer);
    const signInPage = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, extra }, createPkce().challenge));
    const action = /action="(\/interaction\/[^"]+\/federated\/test-idp)"/.exec(signInPage.html)?.[1];
    assert.ok(action, signInPage.html.slice(0, 400));
    const left = await browser.submit(action, { csrf: inputValue(signInPage.html, 'csrf')! }, signInPage.url);
    const url = new URL(left.url);
    assert.equal(url.origin, idp.issuer, 'sent to the upstream');
    return url;
  }

  test('a sign-in with prompt=login sends prompt=login to the upstream', async () => {
    assert.equal((await upstreamRequest({ prompt: 'login' })).searchParams.get('prompt'), 'login');
  });

  test('an ordinary sign-in sends no prompt to the upstream', async () => {
    assert.equal((await upstreamRequest({})).searchParams.get('prompt'), null);
  });
});
