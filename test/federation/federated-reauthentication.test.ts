/**
 * A fresh sign-in asked of Gatehouse (prompt=login: the admin pages' re-authentication) is asked
 * of the upstream too, with prompt=login and max_age=0, so a federated admin re-authenticates
 * there instead of passing on the upstream's SSO session (OIDC Core §3.1.2.1). An upstream may
 * ignore both: the ID token's auth_time must then show a sign-in made after the re-authentication
 * started, or the sensitive admin action stays refused. An app's max_age is passed on to the
 * upstream, whose SSO session usually outlives Gatehouse's: an answer from a session older than
 * max_age is refused the same way, where it used to give the app an ID token whose auth_time was
 * the moment the browser came back. An ordinary sign-in leaves the upstream's choice.
 *
 * Signing out and back in through the upstream's SSO session, as anyone at an unattended browser
 * can, is not a recent sign-in: it counts from the upstream's auth_time when the ID token states
 * one, and never counts as recent when it does not. Every case runs against an upstream of each
 * kind. Both sides' sign-in times run on one test clock, moved, never slept.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser, formAction, inputValue, type PageResult } from '../helpers/browser.ts';
import { decodeJwt } from 'jose';
import { authorizeUrl, CLAUDE_CALLBACK, decide, registerClient, tokenRequest, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/start-upstream-idp.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { csrfOf, post } from '../admin/support/admin-browser.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };

/** Gatehouse federating to a test upstream whose admin@example.com is an admin here, and an app registered. */
async function startFederation(clock: TestClock, idpOptions: { statesAuthTime?: boolean } = {}) {
  const idp = await startUpstreamIdp({ 'admin@example.com': { email: 'admin@example.com', email_verified: true } }, { clock, ...idpOptions });
  const server = await startAuthServer({
    clock,
    configure(config) {
      config.authServer.mode = 'both';
      config.authServer.upstreams = [{
        id: 'test-idp', displayName: 'Test IdP', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret,
        scopes: ['openid', 'email'], allowedDomains: ['example.com'], allowedEmails: [], newUsers: 'allow',
        defaultScopes: ['mcp:read'], adminUsers: ['admin@example.com'], adminScopes: ['mcp:read', 'mcp:admin'], timeout: 5,
      }];
    },
  });
  await idp.allowClient(`${server.issuer}/oauth/callback/test-idp`);
  return { idp, server, client: await registerClient(server.issuer) };
}

// Some upstreams state auth_time only when asked (a max_age), others in every ID token.
for (const statesAuthTime of [false, true]) describe(`federated sign-in and re-authentication, at an upstream that states auth_time ${statesAuthTime ? 'in every ID token' : 'only when asked'}`, () => {
  let idp: UpstreamIdp;
  let server: TestAuthServer;
  let client: RegisteredClient;
  const clock = new TestClock();

  before(async () => {
    ({ idp, server, client } = await startFederation(clock, { statesAuthTime }));
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

  test('a sign-in with prompt=login sends prompt=login and max_age=0 to the upstream', async () => {
    const url = await upstreamRequest({ prompt: 'login' });
    assert.equal(url.searchParams.get('prompt'), 'login');
    assert.equal(url.searchParams.get('max_age'), '0', 'max_age makes auth_time REQUIRED in the ID token (OIDC Core §3.1.2.1)');
  });

  test('an ordinary sign-in sends no prompt to the upstream', async () => {
    const url = await upstreamRequest({});
    assert.equal(url.searchParams.get('prompt'), null);
    assert.equal(url.searchParams.get('max_age'), null);
  });

  /** From Gatehouse's sign-in page: "Sign in with Test IdP", then the upstream's login and consent if it asks. */
  async function viaUpstream(browser: Browser, signInPage: PageResult): Promise<PageResult> {
    const action = /action="(\/interaction\/[^"]+\/federated\/test-idp)"/.exec(signInPage.html)?.[1];
    assert.ok(action, `expected Gatehouse's sign-in page, got ${signInPage.status} ${signInPage.url}`);
    let page = await browser.submit(action, { csrf: inputValue(signInPage.html, 'csrf')! }, signInPage.url);
    if (page.url.startsWith(idp.issuer) && /name="login"/.test(page.html)) {
      page = await browser.submit(formAction(page.html), { prompt: 'login', login: 'admin@example.com', password: 'anything' }, page.url);
    }
    if (page.url.startsWith(idp.issuer) && /name="prompt" value="consent"/.test(page.html)) {
      page = await browser.submit(formAction(page.html), { prompt: 'consent' }, page.url);
    }
    return page;
  }

  /** A federated admin on /admin/users, signed in (at the upstream too) `age` seconds ago on the test clock. */
  async function adminSignedInAgo(age: number): Promise<{ browser: Browser; page: PageResult }> {
    const browser = new Browser(server.issuer, [idp.issuer]);
    const page = await viaUpstream(browser, await browser.navigate('/admin/users'));
    assert.equal(new URL(page.url).pathname, '/admin/users', `${page.status} ${page.url}\n${page.html.slice(0, 300)}`);
    clock.advance(age);
    return { browser, page: await browser.navigate('/admin/users') };
  }

  /** Posts "create user" (a sensitive change: it needs a recent sign-in). */
  function createUser(browser: Browser, page: PageResult, username: string): Promise<Response> {
    return browser.request('/admin/users', {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ csrf: csrfOf(page, '/admin/users'), username, password: 'a long enough password', scope: 'mcp:read' }),
    });
  }

  function assertSentToFreshSignIn(response: Response, what: string): string {
    assert.equal(response.status, 303, what);
    const location = new URL(response.headers.get('location')!, server.issuer);
    assert.equal(location.pathname, '/oauth/authorize', what);
    assert.equal(location.searchParams.get('prompt'), 'login', what);
    return location.href;
  }

  test('an upstream that ignores prompt=login and max_age and answers from an old session: the re-authentication is refused and the admin action stays refused', async () => {
    const { browser, page } = await adminSignedInAgo(10 * 60);
    const freshSignIn = assertSentToFreshSignIn(await createUser(browser, page, 'made-on-old-session'), 'an old sign-in must sign in again');
    idp.passesOnSession = true;
    try {
      const refused = await viaUpstream(browser, await browser.navigate(freshSignIn));
      assert.equal(refused.status, 403, `a 401 would need a challenge (RFC 9110 §15.5.2): ${refused.status} ${refused.url}\n${refused.html.slice(0, 400)}`);
      assert.match(refused.html, /This step needs you to sign in again, but Test IdP let you through on an earlier sign-in/);
    } finally {
      idp.passesOnSession = false;
    }
    assertSentToFreshSignIn(await createUser(browser, page, 'made-on-old-session'), 'still not recent enough');
    assert.equal(await server.auth.users.findByUsername('made-on-old-session'), undefined, 'nothing was created');
  });

  test('an upstream that signs the admin in again (a current auth_time): the re-authentication is accepted and the admin action goes through', async () => {
    const { browser, page } = await adminSignedInAgo(10 * 60);
    const freshSignIn = assertSentToFreshSignIn(await createUser(browser, page, 'made-after-fresh-sign-in'), 'an old sign-in must sign in again');
    const back = await viaUpstream(browser, await browser.navigate(freshSignIn));
    assert.equal(new URL(back.url).pathname, '/admin/users', `${back.status} ${back.url}\n${back.html.slice(0, 400)}`);
    assert.match(back.html, /Nothing was changed yet: submit the form again\./);
    const created = await createUser(browser, back, 'made-after-fresh-sign-in');
    assert.equal(created.status, 303, 'carried out, not sent to sign in');
    assert.ok(await server.auth.users.findByUsername('made-after-fresh-sign-in'));
  });

  test('signing out and back in through the upstream\'s SSO session is not taken for a recent sign-in: the admin action is sent to a fresh sign-in', async () => {
    const { browser, page } = await adminSignedInAgo(10 * 60);
    assertSentToFreshSignIn(await createUser(browser, page, 'made-after-sso-pass-through'), 'an old sign-in must sign in again');
    // Someone at the unattended browser: sign out of Gatehouse, sign in again without a password.
    const signedOut = await post(browser, await browser.navigate('/account'), '/account/sign-out');
    assert.match(signedOut.html, /Signed out/);
    const before = idp.requests.filter((request) => request.startsWith('POST /interaction/')).length;
    const back = await viaUpstream(browser, await browser.navigate('/admin/users'));
    assert.equal(new URL(back.url).pathname, '/admin/users', `${back.status} ${back.url}`);
    assert.equal(idp.requests.filter((request) => request.startsWith('POST /interaction/')).length, before, 'the upstream asked for nothing');
    assertSentToFreshSignIn(await createUser(browser, back, 'made-after-sso-pass-through'), 'a pass-through of the upstream session is not a recent sign-in');
    assert.equal(await server.auth.users.findByUsername('made-after-sso-pass-through'), undefined, 'nothing was created');
  });

  /** The app's authorization request, for the ID token (`openid`) and mcp:read, with `extra` parameters. */
  function appAuthorization(extra: Record<string, string> = {}) {
    const { verifier, challenge } = createPkce();
    return { verifier, url: authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'openid mcp:read', resource: RESOURCE, extra }, challenge) };
  }

  /**
   * A browser signed in at the upstream `age` seconds ago (through Gatehouse, for the app) and
   * since signed out of Gatehouse, as after Gatehouse's session ended: the upstream's SSO session
   * usually outlives it.
   */
  async function signedInUpstreamAgo(age: number): Promise<Browser> {
    const browser = new Browser(server.issuer, [idp.issuer]);
    let page = await viaUpstream(browser, await browser.navigate(appAuthorization().url));
    if (/name="decision"/.test(page.html)) page = await decide(browser, page, 'approve');
    assert.ok(new URL(page.url).searchParams.get('code'), `connected: ${page.status} ${page.url}\n${page.html.slice(0, 300)}`);
    const signedOut = await post(browser, await browser.navigate('/account'), '/account/sign-out');
    assert.match(signedOut.html, /Signed out/);
    clock.advance(age);
    return browser;
  }

  /** From Gatehouse's sign-in page, "Sign in with Test IdP": the authorization request the upstream receives. */
  async function requestToUpstream(browser: Browser, signInPage: PageResult): Promise<URL> {
    const action = /action="(\/interaction\/[^"]+\/federated\/test-idp)"/.exec(signInPage.html)?.[1];
    assert.ok(action, `expected Gatehouse's sign-in page, got ${signInPage.status} ${signInPage.url}`);
    const left = await browser.submit(action, { csrf: inputValue(signInPage.html, 'csrf')! }, signInPage.url, (next) => next.origin === idp.issuer);
    const url = new URL(left.url);
    assert.equal(url.origin, idp.issuer, 'sent to the upstream');
    return url;
  }

  test('an app asking max_age=60: the upstream is asked for max_age=60 too, without prompt=login', async () => {
    const browser = await signedInUpstreamAgo(10 * 60);
    const url = await requestToUpstream(browser, await browser.navigate(appAuthorization({ max_age: '60' }).url));
    assert.equal(url.searchParams.get('max_age'), '60', 'max_age also makes auth_time REQUIRED in the ID token (OIDC Core §3.1.2.1)');
    assert.equal(url.searchParams.get('prompt'), null, 'an upstream sign-in newer than max_age may stand');
  });

  test('an app asking max_age=60 of a person the upstream signed in 10 minutes ago, which answers from that session: refused, and no code reaches the app', async () => {
    const browser = await signedInUpstreamAgo(10 * 60);
    idp.passesOnSession = true;
    try {
      const refused = await viaUpstream(browser, await browser.navigate(appAuthorization({ max_age: '60' }).url));
      assert.equal(refused.status, 403, `a 401 would need a challenge (RFC 9110 §15.5.2): ${refused.status} ${refused.url}\n${refused.html.slice(0, 400)}`);
      assert.match(refused.html, /This step needs you to sign in again, but Test IdP let you through on an earlier sign-in/);
      assert.ok(!refused.url.startsWith(CLAUDE_CALLBACK), 'nothing was sent to the app');
    } finally {
      idp.passesOnSession = false;
    }
  });

  test('a first sign-in under max_age=60, made at the upstream just now: the app gets a code whose ID token has that auth_time', async () => {
    const browser = new Browser(server.issuer, [idp.issuer]);
    const { url, verifier } = appAuthorization({ max_age: '60' });
    let page = await viaUpstream(browser, await browser.navigate(url));
    if (/name="decision"/.test(page.html)) page = await decide(browser, page, 'approve');
    const code = new URL(page.url).searchParams.get('code');
    assert.ok(code, `${page.status} ${page.url}\n${page.html.slice(0, 400)}`);
    const tokens = await tokenRequest(server.issuer, { grant_type: 'authorization_code', client_id: client.client_id, code, code_verifier: verifier, redirect_uri: CLAUDE_CALLBACK });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(decodeJwt(tokens.body.id_token as string).auth_time, clock.epochSeconds());
  });

  // Its upstream session is older than the end: counted from that auth_time, the new sign-in was
  // taken for one made before the end and asked again at every try (found by a review).
  test('a user whose sessions were ended (disabled, enabled again) signs in again through the upstream\'s session', async () => {
    const browser = new Browser(server.issuer, [idp.issuer]);
    let page = await viaUpstream(browser, await browser.navigate(appAuthorization({}).url));
    if (/name="decision"/.test(page.html)) page = await decide(browser, page, 'approve');
    assert.ok(new URL(page.url).searchParams.get('code'), `${page.status} ${page.url}`);
    const user = (await server.auth.users.list()).find((u) => u.email === 'admin@example.com');
    assert.ok(user);
    clock.advance(120);
    await server.auth.admin.users.disable({ id: user.id }, BY);
    await server.auth.admin.users.enable({ id: user.id }, BY);
    clock.advance(5);

    page = await viaUpstream(browser, await browser.navigate(appAuthorization({}).url));
    if (/name="decision"/.test(page.html)) page = await decide(browser, page, 'approve');
    assert.ok(new URL(page.url).searchParams.get('code'), `expected a code, got ${page.status} ${page.url}\n${page.html.slice(0, 300)}`);
  });
});
