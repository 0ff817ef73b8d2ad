/**
 * Federated sign-in on two auth-server replicas sharing one PostgreSQL database and one issuer
 * (the load balancer's address): the upstream's redirect back may land on either replica, and
 * its `state` is used once, whichever replica sees it first.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { UpstreamConfig } from '../../apps/shared/config/federated-upstreams.ts';
import type { GatehouseConfig } from '../../apps/shared/config/load-config.ts';
import { Browser, formAction, inputValue } from '../helpers/browser.ts';
import { authorizeUrl, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/start-upstream-idp.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const STATE_REFUSED = /does not belong to a sign-in started here/;
/** Races run: two requests meet inside the few milliseconds of a non-atomic read-then-delete only now and then. */
const ATTEMPTS = 8;

function upstreamConfig(idp: UpstreamIdp): UpstreamConfig {
  return {
    id: 'test-idp', displayName: 'Test IdP', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret,
    scopes: ['openid', 'email'], allowedDomains: ['example.com'], allowedEmails: [], newUsers: 'allow',
    defaultScopes: ['mcp:read'], adminUsers: [], adminScopes: [], timeout: 5,
  };
}

if (TEST_BACKENDS.includes('postgres')) describe('federated sign-in on two replicas (postgres)', () => {
  let idp: UpstreamIdp;
  let first: TestAuthServer;
  let second: TestAuthServer;
  let client: RegisteredClient;

  before(async () => {
    idp = await startUpstreamIdp({ 'alice@example.com': { email: 'alice@example.com', email_verified: true } });
    const configure = (config: GatehouseConfig) => {
      config.authServer.mode = 'federated';
      config.authServer.upstreams = [upstreamConfig(idp)];
    };
    first = await startAuthServer({ backend: 'postgres', configure });
    // A replica: the same database, key files and issuer; it listens on its own port.
    second = await startAuthServer({
      databaseUrl: first.config.authServer.database.postgres!.url,
      dir: first.dir,
      configure(config) {
        configure(config);
        config.authServer.issuer = first.config.authServer.issuer;
      },
    });
    await idp.allowClient(`${first.issuer}/oauth/callback/test-idp`);
    client = await registerClient(first.issuer);
  });
  after(async () => {
    await second?.close();
    await first?.close();
    await idp?.close();
  });

  /** Starts a sign-in with the upstream on the first replica; returns the upstream's redirect back, unfollowed. */
  async function upstreamRedirect(): Promise<{ browser: Browser; callback: URL }> {
    const browser = new Browser(first.issuer, [idp.issuer]);
    const signInPage = await browser.navigate(authorizeUrl(first.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
    const action = /action="(\/interaction\/[^"]+\/federated\/test-idp)"/.exec(signInPage.html)![1]!;
    const login = await browser.submit(action, { csrf: inputValue(signInPage.html, 'csrf')! }, signInPage.url);
    const atCallback = (next: URL) => next.pathname.startsWith('/oauth/callback');
    let page = await browser.submit(formAction(login.html), { prompt: 'login', login: 'alice@example.com', password: 'x' }, login.url, atCallback);
    if (page.status === 200) page = await browser.submit(formAction(page.html), { prompt: 'consent' }, page.url, atCallback);
    const callback = new URL(page.url);
    assert.equal(callback.pathname, '/oauth/callback/test-idp', `${page.status} ${page.url}`);
    return { browser, callback };
  }

  /** The redirect back, delivered to `replica` by the load balancer, with the browser's cookies. */
  async function deliver(replica: TestAuthServer, browser: Browser, callback: URL): Promise<{ status: number; location: string | null; html: string }> {
    const response = await fetch(new URL(`${callback.pathname}${callback.search}`, replica.issuer), {
      headers: { cookie: browser.cookieHeader(callback) },
      redirect: 'manual',
    });
    return { status: response.status, location: response.headers.get('location'), html: await response.text() };
  }

  test('a sign-in started on one replica finishes on the other, and its state cannot be used again on the first', async () => {
    const { browser, callback } = await upstreamRedirect();
    const finished = await deliver(second, browser, callback);
    assert.equal(finished.status, 303, finished.html.slice(0, 500));
    // Back to the interaction, which the first replica continues: the consent page.
    const consent = await browser.navigate(new URL(finished.location!, first.issuer));
    assert.match(consent.html, /Allow access\?/);

    const replayed = await deliver(first, browser, callback);
    assert.equal(replayed.status, 400);
    assert.match(replayed.html, STATE_REFUSED);
  });

  test('the same redirect delivered to both replicas at once is used by one only', async () => {
    for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
      const { browser, callback } = await upstreamRedirect();
      const answers = await Promise.all([deliver(first, browser, callback), deliver(second, browser, callback)]);
      assert.equal(answers.filter((a) => a.status === 303).length, 1, `attempt ${attempt}: ${answers.map((a) => a.status).join(' ')}`);
      const loser = answers.find((a) => a.status !== 303)!;
      // Refused for its state, before the upstream's code was sent anywhere (that would fail later, and differently).
      assert.equal(loser.status, 400);
      assert.match(loser.html, STATE_REFUSED, `attempt ${attempt}`);
    }
  });
});
