/**
 * A federated user whose sessions were ended (here: disabled and enabled again) signs in again
 * through the upstream's own session. The callback stamped the sign-in with the upstream's
 * `auth_time`, older than the end, so the new check (a sign-in from before the end no longer
 * counts) asked for a sign-in again at every try, for as long as the upstream's session lasted
 * (found by the review of that check). Such a sign-in now counts from the end, at acr "0".
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Browser, formAction, inputValue, type PageResult } from '../helpers/browser.ts';
import { authorizeUrl, decide, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/start-upstream-idp.ts';
import { TestClock } from '../helpers/test-clock.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };
const clock = new TestClock();
let idp: UpstreamIdp;
let server: TestAuthServer;
let client: RegisteredClient;

before(async () => {
  idp = await startUpstreamIdp({ 'fed@example.com': { email: 'fed@example.com', email_verified: true } }, { clock, statesAuthTime: true });
  server = await startAuthServer({
    clock,
    configure(config) {
      config.authServer.mode = 'both';
      config.authServer.upstreams = [{
        id: 'test-idp', displayName: 'Test IdP', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret,
        scopes: ['openid', 'email'], allowedDomains: ['example.com'], allowedEmails: [], newUsers: 'allow',
        defaultScopes: ['mcp:read'], adminUsers: [], adminScopes: [], timeout: 5,
      }];
    },
  });
  await idp.allowClient(`${server.issuer}/oauth/callback/test-idp`);
  client = await registerClient(server.issuer);
});
after(async () => { await server?.close(); await idp?.close(); });

async function viaUpstream(browser: Browser, signInPage: PageResult): Promise<PageResult> {
  const action = /action="(\/interaction\/[^"]+\/federated\/test-idp)"/.exec(signInPage.html)?.[1];
  assert.ok(action, `expected Gatehouse's sign-in page, got ${signInPage.status} ${signInPage.url}`);
  let page = await browser.submit(action, { csrf: inputValue(signInPage.html, 'csrf')! }, signInPage.url);
  if (page.url.startsWith(idp.issuer) && /name="login"/.test(page.html)) {
    page = await browser.submit(formAction(page.html), { prompt: 'login', login: 'fed@example.com', password: 'anything' }, page.url);
  }
  if (page.url.startsWith(idp.issuer) && /name="prompt" value="consent"/.test(page.html)) {
    page = await browser.submit(formAction(page.html), { prompt: 'consent' }, page.url);
  }
  return page;
}

const authorize = () => authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge);

test('a federated user disabled and enabled again signs in through the upstream\'s session', async () => {
  const browser = new Browser(server.issuer, [idp.issuer]);
  let page = await viaUpstream(browser, await browser.navigate(authorize()));
  if (/name="decision"/.test(page.html)) page = await decide(browser, page, 'approve');
  assert.ok(new URL(page.url).searchParams.get('code'), `first sign-in works: ${page.status} ${page.url}`);
  const user = (await server.auth.users.list()).find((u) => u.email === 'fed@example.com');
  assert.ok(user);

  clock.advance(120);
  await server.auth.admin.users.disable(user.id, BY);
  await server.auth.admin.users.enable(user.id, BY);
  clock.advance(5);

  // The Gatehouse session is gone: sign in again, through the upstream (its SSO session passes).
  page = await viaUpstream(browser, await browser.navigate(authorize()));
  if (/name="decision"/.test(page.html)) page = await decide(browser, page, 'approve');
  assert.ok(new URL(page.url).searchParams.get('code'),
    `expected a code after signing in again through the upstream; got ${page.status} ${page.url}\n${page.html.slice(0, 300)}`);
});
