/**
 * On an https issuer the federated sign-in's browser binding cookie carries the `__Host-` prefix,
 * so a sibling host (evil.example.com beside auth.example.com) cannot plant the attacker's own
 * binding in a victim's browser: a review reproduced an attacker stopping their own upstream
 * sign-in before its callback, planting their binding and interaction cookies in a victim's
 * browser and sending it to that callback URL, which signed the victim's browser in as the
 * attacker with no click (and the victim's next connector was granted as the attacker). Served
 * over real TLS with a throwaway certificate, to a Browser helper that, as browsers do, takes no
 * `__Host-` cookie from another host.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Agent, setGlobalDispatcher } from 'undici';
import { Browser, formAction, inputValue, type PageResult } from '../helpers/browser.ts';
import { makeTestCertificate } from '../helpers/document-server.ts';
import { authorizeUrl, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/start-upstream-idp.ts';

const RESOURCE = 'http://localhost:4001/mcp';

describe('the federated callback on an https issuer', () => {
  let idp: UpstreamIdp;
  let server: TestAuthServer;
  let client: RegisteredClient;
  before(async () => {
    const { key, cert } = makeTestCertificate();
    // This file's process trusts the throwaway certificate for every fetch (the Browser helper's too).
    setGlobalDispatcher(new Agent({ connect: { ca: cert } }));
    idp = await startUpstreamIdp({ 'mallory@example.com': { email: 'mallory@example.com', email_verified: true } });
    server = await startAuthServer({
      tls: { key, cert },
      configure(config) {
        config.authServer.mode = 'both';
        config.authServer.upstreams = [{
          id: 'test-idp', displayName: 'Test IdP', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret,
          scopes: ['openid', 'email'], allowedDomains: [], allowedEmails: [], newUsers: 'allow', defaultScopes: ['mcp:read'],
          adminUsers: [], adminScopes: [], timeout: 5,
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

  /**
   * A browser starts a sign-in at the upstream and signs in there as mallory; returns the response
   * that set the binding cookie and the callback URL the upstream redirected to, unfollowed.
   */
  async function upToCallback(browser: Browser): Promise<{ started: Response; callback: URL }> {
    const signInPage = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
    const action = /action="(\/interaction\/[^"]+\/federated\/test-idp)"/.exec(signInPage.html)![1]!;
    const started = await browser.request(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: inputValue(signInPage.html, 'csrf')! }),
    });
    assert.equal(started.status, 303, await started.text());
    const atCallback = (next: URL) => next.pathname.startsWith('/oauth/callback');
    const login = await browser.navigate(started.headers.get('location')!);
    let page: PageResult = await browser.submit(formAction(login.html), { prompt: 'login', login: 'mallory@example.com', password: 'x' }, login.url, atCallback);
    if (page.status === 200) page = await browser.submit(formAction(page.html), { prompt: 'consent' }, page.url, atCallback);
    const callback = new URL(page.url);
    assert.equal(callback.pathname, '/oauth/callback/test-idp', `${page.status} ${page.url}`);
    return { started, callback };
  }

  test('the binding cookie is __Host-: Secure, HttpOnly, SameSite=Lax, Path=/, no Domain; the browser that started finishes', async () => {
    const browser = new Browser(server.issuer, [idp.issuer]);
    const { started, callback } = await upToCallback(browser);
    const bindings = started.headers.getSetCookie().filter((line) => line.includes('gatehouse.federated'));
    assert.deepEqual(bindings.map((line) => line.split('=')[0]), ['__Host-gatehouse.federated']);
    const attributes = bindings[0]!.split(';').slice(1).map((a) => a.trim().toLowerCase());
    for (const wanted of ['secure', 'httponly', 'samesite=lax', 'path=/']) assert.ok(attributes.includes(wanted), `${wanted}: ${bindings[0]}`);
    assert.ok(!attributes.some((a) => a.startsWith('domain=')), bindings[0]);
    // Lax, not Strict: it must come back on the upstream's cross-site redirect to the callback.
    assert.match((await browser.navigate(callback)).html, /Allow access\?/);
  });

  test('a victim\'s browser sent to the attacker\'s callback with every cookie another host can plant is refused and stays signed out', async () => {
    const attacker = new Browser(server.issuer, [idp.issuer]);
    const { callback } = await upToCallback(attacker);
    const victim = new Browser(server.issuer);
    // Whatever its name: the attacker copies the value from their own browser.
    const binding = attacker.cookies().find((c) => c.name.endsWith('gatehouse.federated'))!;
    // The binding under every name and path a sibling host can set, and oidc-provider's
    // interaction cookies (signed by the server for the attacker's own flow) as they are.
    victim.plant({ name: 'gatehouse.federated', value: binding.value, path: '/oauth/callback' });
    victim.plant({ name: 'gatehouse.federated', value: binding.value, path: '/' });
    for (const cookie of attacker.cookies().filter((c) => c.name.startsWith('_interaction'))) victim.plant(cookie);

    const landed = await victim.navigate(callback);
    assert.equal(landed.status, 400, `${landed.status} ${landed.url}\n${landed.html.slice(0, 300)}`);
    assert.match(landed.html, /was started in another browser/);
    const account = await victim.navigate('/account');
    assert.doesNotMatch(account.html, /mallory/, 'the victim is not signed in as the attacker');
    assert.match(account.html, /name="password"/, 'the account page asks the victim to sign in');
    // Nor does an app the victim connects next skip the sign-in page.
    const authorize = await victim.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
    assert.match(authorize.html, /name="password"/);
    assert.doesNotMatch(authorize.html, /name="decision"/);
  });
});
