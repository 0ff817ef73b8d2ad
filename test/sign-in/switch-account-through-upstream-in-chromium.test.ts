/**
 * "Not X? Sign in as someone else" on the consent page offers the upstream sign-in too, wherever
 * the sign-in page does (`both` and `federated` modes): the upstream's sign-in, started from the
 * switch form, is handed to the provider as this interaction's login result, as the password
 * switch's is, so the provider ends the browser's session and asks the new account's consent.
 * The upstream is asked for a new sign-in (prompt=login, and max_age=0, which the callback checks
 * auth_time against): answering from its own session, it would only sign the same person in again
 * (refused: test/federation/federated-switch-needs-new-sign-in.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { Browser as Chromium, Page } from 'playwright-core';
import type { GatehouseConfig } from '../../apps/shared/config/load-config.ts';
import { collectCspViolations, interceptCallback, launchChromium } from '../helpers/chromium.ts';
import { authorizeUrl, CLAUDE_CALLBACK, registerClient, tokenRequest } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/start-upstream-idp.ts';

const RESOURCE = 'http://localhost:4001/mcp';

function withUpstream(idp: UpstreamIdp, mode: 'both' | 'federated') {
  return (config: GatehouseConfig) => {
    config.authServer.mode = mode;
    config.authServer.upstreams = [{
      id: 'test-idp', displayName: 'Test IdP', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret,
      scopes: ['openid', 'email'], allowedDomains: ['example.com'], allowedEmails: [], newUsers: 'allow',
      defaultScopes: ['mcp:read'], adminUsers: [], adminScopes: ['mcp:admin'], timeout: 5,
    }];
  };
}

/** The upstream's own (development) sign-in and consent pages, as `login`; back on ours after. */
async function signInAtUpstream(page: Page, idp: UpstreamIdp, login: string): Promise<void> {
  await page.waitForURL(`${idp.issuer}/**`);
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('anything');
  await page.locator('button[type="submit"]').first().click();
  await page.locator('button[type="submit"]').first().click();
}

/** Waits for our page titled `name`; a page elsewhere is named in the failure, with its text. */
async function waitForHeading(page: Page, name: string): Promise<void> {
  try {
    await page.getByRole('heading', { name }).waitFor({ timeout: 15_000 });
  } catch (err) {
    const text = await page.locator('body').innerText().catch(() => '');
    throw new Error(`no page "${name}": at ${page.url()}: ${text.slice(0, 600)}`, { cause: err });
  }
}

/** The `prompt` and `max_age` of every authorization request the browser sent the upstream, in order. */
function upstreamPrompts(page: Page, idp: UpstreamIdp): Array<{ prompt: string | null; max_age: string | null }> {
  const prompts: Array<{ prompt: string | null; max_age: string | null }> = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.origin === idp.issuer && url.pathname === '/auth') prompts.push({ prompt: url.searchParams.get('prompt'), max_age: url.searchParams.get('max_age') });
  });
  return prompts;
}

/** A page in a new browser context, watched: CSP violations, client callbacks, prompts sent to the upstream. */
async function watchedPage(chromium: Chromium, idp: UpstreamIdp) {
  const context = await chromium.newContext();
  const page = await context.newPage();
  return { context, page, violations: collectCspViolations(page), callbacks: await interceptCallback(page, CLAUDE_CALLBACK), prompts: upstreamPrompts(page, idp) };
}

async function tokenClaims(server: TestAuthServer, clientId: string, callback: URL, verifier: string) {
  const tokens = await tokenRequest(server.issuer, {
    grant_type: 'authorization_code', client_id: clientId, code: callback.searchParams.get('code')!, code_verifier: verifier, redirect_uri: CLAUDE_CALLBACK,
  });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  return decodeJwt(tokens.body.access_token as string);
}

describe('consent page: sign in as someone else through the upstream', () => {
  let idp: UpstreamIdp;
  let both: TestAuthServer;
  let federated: TestAuthServer;
  let chromium: Chromium;

  before(async () => {
    idp = await startUpstreamIdp({
      'dana@example.com': { email: 'dana@example.com', email_verified: true },
      'erin@example.com': { email: 'erin@example.com', email_verified: true },
    // Another host than Gatehouse's 127.0.0.1, as an upstream is: the browser holds a Gatehouse
    // session here, which the upstream's session cookie would replace on the same host.
    }, { host: '127.0.0.2' });
    both = await startAuthServer({ configure: withUpstream(idp, 'both') });
    federated = await startAuthServer({ configure: withUpstream(idp, 'federated') });
    await idp.allowClient([`${both.issuer}/oauth/callback/test-idp`, `${federated.issuer}/oauth/callback/test-idp`]);
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await both?.close();
    await federated?.close();
    await idp?.close();
  });

  test('both mode: signed in as admin, the switch offers Test IdP beside the password form, and the app\'s token is dana\'s', async () => {
    const client = await registerClient(both.issuer);
    const { context, page, violations, callbacks, prompts } = await watchedPage(chromium, idp);
    try {
      await page.goto(`${both.issuer}/admin`);
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await waitForHeading(page, 'Administration');

      const { verifier, challenge } = createPkce();
      await page.goto(authorizeUrl(both.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, challenge).href);
      await waitForHeading(page, 'Allow access?');
      assert.match(await page.locator('.lead').innerText(), /as admin\./);
      await page.getByRole('button', { name: 'Sign in as someone else' }).click();
      await waitForHeading(page, 'Sign in as someone else');
      assert.match(await page.locator('#switch-note').innerText(), /signed in as admin\./);
      assert.equal(await page.getByLabel('Password').count(), 1, 'the password form is offered');
      await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();
      await signInAtUpstream(page, idp, 'dana@example.com');

      await waitForHeading(page, 'Allow access?');
      assert.match(await page.locator('.lead').innerText(), /as dana@example\.com\./);
      assert.deepEqual(prompts, [{ prompt: 'login', max_age: '0' }], 'the upstream was asked for a new sign-in');
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL(`${CLAUDE_CALLBACK}**`);
      const claims = await tokenClaims(both, client.client_id, callbacks.at(-1)!, verifier);
      assert.equal(claims.sub, (await both.auth.users.findByUsername('dana@example.com'))!.id);
      assert.equal(claims.scope, 'mcp:read');

      // The browser is dana's now: /admin refuses her.
      const admin = await page.goto(`${both.issuer}/admin`);
      assert.equal(admin?.status(), 403);
      assert.deepEqual(violations, [], 'no CSP violations');
    } finally {
      await context.close();
    }
  });

  test('federated mode: the consent page offers the switch, which signs in with Test IdP only, and the upstream asks who signs in although it holds dana\'s session', async () => {
    const first = await registerClient(federated.issuer);
    const second = await registerClient(federated.issuer);
    const { context, page, violations, callbacks, prompts } = await watchedPage(chromium, idp);
    try {

      // dana connects a first app through the upstream, which then holds her session.
      await page.goto(authorizeUrl(federated.issuer, { clientId: first.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge).href);
      await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();
      await signInAtUpstream(page, idp, 'dana@example.com');
      await waitForHeading(page, 'Allow access?');
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL(`${CLAUDE_CALLBACK}**`);

      // A second app: dana's consent page, and erin signs in instead.
      const { verifier, challenge } = createPkce();
      await page.goto(authorizeUrl(federated.issuer, { clientId: second.client_id, scope: 'mcp:read', resource: RESOURCE }, challenge).href);
      await waitForHeading(page, 'Allow access?');
      assert.match(await page.locator('form.switch-account').innerText(), /^Not dana@example\.com\? Sign in as someone else$/);
      await page.getByRole('button', { name: 'Sign in as someone else' }).click();
      await waitForHeading(page, 'Sign in as someone else');
      assert.equal(await page.getByLabel('Password').count(), 0, 'no password form in federated mode');
      await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();
      await signInAtUpstream(page, idp, 'erin@example.com');

      await waitForHeading(page, 'Allow access?');
      assert.match(await page.locator('.lead').innerText(), /as erin@example\.com\./);
      assert.deepEqual(prompts, [{ prompt: null, max_age: null }, { prompt: 'login', max_age: '0' }], 'only the switch asked the upstream for a new sign-in');
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL(`${CLAUDE_CALLBACK}**`);
      const claims = await tokenClaims(federated, second.client_id, callbacks.at(-1)!, verifier);
      assert.equal(claims.sub, (await federated.auth.users.findByUsername('erin@example.com'))!.id);
      assert.deepEqual(violations, [], 'no CSP violations');
    } finally {
      await context.close();
    }
  });

  test('in a consent step the upstream sign-in starts only with the switch form\'s token', async () => {
    const client = await registerClient(federated.issuer);
    const context = await chromium.newContext();
    try {
      const page = await context.newPage();
      await page.goto(authorizeUrl(federated.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge).href);
      await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();
      await signInAtUpstream(page, idp, 'dana@example.com');
      await waitForHeading(page, 'Allow access?');
      const uid = new URL(page.url()).pathname.split('/').at(-1)!;
      const consentToken = await page.locator('form.switch-account input[name=csrf]').inputValue();
      const cases: Array<{ what: string; csrf: string }> = [
        { what: 'the consent page\'s own token', csrf: consentToken },
        { what: 'no token', csrf: '' },
      ];
      for (const { what, csrf } of cases) {
        const answer = await context.request.post(`${federated.issuer}/interaction/${uid}/federated/test-idp`, {
          form: { csrf }, maxRedirects: 0, headers: { accept: 'text/html' },
        });
        assert.equal(answer.status(), 403, what);
        assert.equal(answer.headers().location, undefined, `${what}: not sent to the upstream`);
      }
      await page.reload();
      assert.match(await page.locator('.lead').innerText(), /as dana@example\.com\./, 'still dana\'s consent');
    } finally {
      await context.close();
    }
  });
});
