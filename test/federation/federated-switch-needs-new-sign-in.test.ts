/**
 * "Sign in as someone else" on the consent page, through the upstream: the upstream is asked for
 * a new sign-in with prompt=login and max_age=0 (OIDC Core §3.1.2.1; max_age makes auth_time
 * REQUIRED in its ID token). An upstream that ignores both answers from its own session and
 * signs the same person in again, so the switch would seem to do nothing, or be taken for done:
 * the answer is refused (403, a page saying so) unless its auth_time is after the switch
 * started. An ordinary sign-in through the upstream still sends neither. Every case runs against
 * an upstream that states auth_time only when asked, and one that states it in every ID token.
 * Both sides' sign-in times run on one test clock, moved, never slept.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser, formAction, inputValue, type PageResult } from '../helpers/browser.ts';
import { authorizeUrl, CLAUDE_CALLBACK, decide, registerClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/start-upstream-idp.ts';
import { TestClock } from '../helpers/test-clock.ts';

const RESOURCE = 'http://localhost:4001/mcp';
/** Longer than the clock skew the callback allows (openid-client's 30 s). */
const SINCE_FIRST_SIGN_IN = 120;

for (const statesAuthTime of [false, true]) describe(`switching account on the consent page through an upstream that states auth_time ${statesAuthTime ? 'in every ID token' : 'only when asked'}`, () => {
  let idp: UpstreamIdp;
  let server: TestAuthServer;
  // With the wall clock, so openid-client's own auth_time check (on the machine's clock) agrees.
  const clock = TestClock.ahead(0);

  before(async () => {
    idp = await startUpstreamIdp({
      'dana@example.com': { email: 'dana@example.com', email_verified: true },
      'erin@example.com': { email: 'erin@example.com', email_verified: true },
    }, { clock, statesAuthTime });
    server = await startAuthServer({
      clock,
      configure(config) {
        config.authServer.mode = 'federated';
        config.authServer.upstreams = [{
          id: 'test-idp', displayName: 'Test IdP', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret,
          scopes: ['openid', 'email'], allowedDomains: ['example.com'], allowedEmails: [], newUsers: 'allow',
          defaultScopes: ['mcp:read'], adminUsers: [], adminScopes: ['mcp:admin'], timeout: 5,
        }];
      },
    });
    await idp.allowClient(`${server.issuer}/oauth/callback/test-idp`);
  });
  after(async () => {
    await server?.close();
    await idp?.close();
  });

  /** An authorization request of a newly registered app, so that its consent is asked. */
  async function authorization(): Promise<URL> {
    const client = await registerClient(server.issuer);
    return authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge);
  }

  /** "Sign in with Test IdP" on `page`: the authorization request the upstream receives (not yet sent). */
  async function startAtUpstream(browser: Browser, page: PageResult): Promise<URL> {
    const action = /action="(\/interaction\/[^"]+\/federated\/test-idp)"/.exec(page.html)?.[1];
    assert.ok(action, `expected a page offering Test IdP, got ${page.status} ${page.url}\n${page.html.slice(0, 400)}`);
    const left = await browser.submit(action, { csrf: inputValue(page.html, 'csrf')! }, page.url, (next) => next.origin === idp.issuer);
    const url = new URL(left.url);
    assert.equal(url.origin, idp.issuer, 'sent to the upstream');
    return url;
  }

  /**
   * At the upstream, as `login` when it asks who signs in, and its consent when it asks; back at
   * Gatehouse after. A sign-in as another account than the session's ends that session first (at
   * the upstream, and at Gatehouse): oidc-provider's end_session confirmation, a form a browser
   * submits by script.
   */
  async function atUpstream(browser: Browser, request: URL, login: string): Promise<PageResult> {
    let page = await browser.navigate(request);
    for (let steps = 0; steps < 6; steps += 1) {
      if (/<title>Submitting Callback<\/title>/.test(page.html)) {
        const fields = Object.fromEntries([...page.html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)].map((m) => [m[1]!, m[2]!]));
        page = await browser.submit(formAction(page.html), fields, page.url);
      } else if (page.url.startsWith(idp.issuer) && /name="login"/.test(page.html)) {
        page = await browser.submit(formAction(page.html), { prompt: 'login', login, password: 'anything' }, page.url);
      } else if (page.url.startsWith(idp.issuer) && /name="prompt" value="consent"/.test(page.html)) {
        page = await browser.submit(formAction(page.html), { prompt: 'consent' }, page.url);
      } else {
        break;
      }
    }
    return page;
  }

  /**
   * A browser in which dana connected a first app through the upstream (whose session she then
   * holds there too), SINCE_FIRST_SIGN_IN seconds ago, now on the consent page of a second app.
   */
  async function danaOnConsentPage(): Promise<{ browser: Browser; consent: PageResult; firstRequest: URL }> {
    const browser = new Browser(server.issuer, [idp.issuer]);
    const firstRequest = await startAtUpstream(browser, await browser.navigate(await authorization()));
    const first = await decide(browser, await atUpstream(browser, firstRequest, 'dana@example.com'), 'approve');
    assert.ok(first.url.startsWith(CLAUDE_CALLBACK), `the first app connected: ${first.status} ${first.url}`);
    clock.advance(SINCE_FIRST_SIGN_IN);
    const consent = await browser.navigate(await authorization());
    assert.match(consent.html, /Not dana@example\.com\? <button/, `dana's consent page: ${consent.status} ${consent.url}\n${consent.html.slice(0, 400)}`);
    return { browser, consent, firstRequest };
  }

  /** "Sign in as someone else", then "Sign in with Test IdP": the request the upstream receives. */
  async function switchThroughUpstream(browser: Browser, consent: PageResult): Promise<URL> {
    const switchAction = /<form method="post" action="([^"]+\/switch-account)"/.exec(consent.html)?.[1];
    assert.ok(switchAction, 'the consent page offers the switch');
    const switchCsrf = /class="switch-account">\s*<input type="hidden" name="csrf" value="([^"]+)"/.exec(consent.html)?.[1];
    assert.ok(switchCsrf);
    const switchPage = await browser.submit(switchAction, { csrf: switchCsrf }, consent.url);
    assert.match(switchPage.html, /<h1>Sign in as someone else<\/h1>/, `${switchPage.status} ${switchPage.url}`);
    return startAtUpstream(browser, switchPage);
  }

  test('an ordinary sign-in sends neither prompt nor max_age; the switch sends prompt=login and max_age=0', async () => {
    const { browser, consent, firstRequest } = await danaOnConsentPage();
    assert.equal(firstRequest.searchParams.get('prompt'), null);
    assert.equal(firstRequest.searchParams.get('max_age'), null);
    const switchRequest = await switchThroughUpstream(browser, consent);
    assert.equal(switchRequest.searchParams.get('prompt'), 'login');
    assert.equal(switchRequest.searchParams.get('max_age'), '0', 'max_age makes auth_time REQUIRED in the ID token (OIDC Core §3.1.2.1)');
  });

  test('an upstream that ignores prompt=login and max_age and signs dana in again from its session: the switch is refused with a page saying so, and the browser stays dana\'s', async () => {
    const { browser, consent } = await danaOnConsentPage();
    const switchRequest = await switchThroughUpstream(browser, consent);
    const before = idp.requests.filter((request) => request.startsWith('POST /interaction/')).length;
    idp.passesOnSession = true;
    let refused: PageResult;
    try {
      refused = await atUpstream(browser, switchRequest, 'erin@example.com');
    } finally {
      idp.passesOnSession = false;
    }
    assert.equal(idp.requests.filter((request) => request.startsWith('POST /interaction/')).length, before, 'the upstream asked for nothing');
    assert.equal(refused.status, 403, `${refused.status} ${refused.url}\n${refused.html.slice(0, 600)}`);
    assert.match(refused.html, /Test IdP did not ask who is signing in: it signed you in again from its own earlier sign-in/);
    assert.ok(!refused.url.startsWith(CLAUDE_CALLBACK), 'nothing was sent to the app');
    const again = await browser.navigate(consent.url);
    assert.match(again.html, /Not dana@example\.com\? <button/, 'still dana\'s consent page');
  });

  test('an upstream that asks who signs in: the switch to erin goes through, after the first sign-in', async () => {
    const { browser, consent } = await danaOnConsentPage();
    const page = await atUpstream(browser, await switchThroughUpstream(browser, consent), 'erin@example.com');
    assert.match(page.html, /Not erin@example\.com\? <button/, `erin's consent page: ${page.status} ${page.url}\n${page.html.slice(0, 400)}`);
  });
});
