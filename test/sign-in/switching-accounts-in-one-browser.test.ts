/**
 * One browser, two people: signed in as alice, the browser signs in as bob (an app asking for a
 * fresh sign-in with prompt=login, OIDC Core §3.1.2.1). oidc-provider ends alice's session first
 * (resume → end_session/confirm, an auto-submitted form), which revokes every grant of that
 * session unless the grant outlives it: expiresWithSession is false in create-provider.ts, so the
 * apps alice connected keep their access. Bob ends up signed in as bob, never as alice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { Browser as Chromium, Page } from 'playwright-core';
import { collectCspViolations, interceptCallback, launchChromium } from '../helpers/chromium.ts';
import { authorizeUrl, CLAUDE_CALLBACK, refresh, registerClient, tokenRequest, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const RESOURCE = 'http://localhost:4001/mcp';

describe('signing in as another account in the same browser', () => {
  let server: TestAuthServer;
  let chromium: Chromium;
  let client: RegisteredClient;

  before(async () => {
    server = await startAuthServer({
      configure(config) {
        config.authServer.users = [
          { username: 'alice', password: 'alice-password', scopes: ['mcp:read'], disabled: false },
          { username: 'bob', password: 'bob-password', scopes: ['mcp:read'], disabled: false },
        ];
      },
    });
    chromium = await launchChromium();
    client = await registerClient(server.issuer);
  });
  after(async () => {
    await chromium?.close();
    await server?.close();
  });

  async function userId(username: string): Promise<string> {
    return (await server.auth.users.findByUsername(username))!.id;
  }

  /**
   * Opens the app's authorization in `page`, signs in as `username` (the sign-in page must be
   * shown), approves, and redeems the code: the tokens the app gets.
   */
  async function connectAs(page: Page, callbacks: URL[], username: string, extra: Record<string, string> = {}): Promise<Record<string, unknown>> {
    const { verifier, challenge } = createPkce();
    await page.goto(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, extra }, challenge).href);
    assert.equal(await page.title(), 'Sign in · Gatehouse', await page.locator('body').innerText());
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(`${username}-password`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    assert.match(await page.locator('.lead').innerText(), new RegExp(`as ${username}\\.`));
    const seen = callbacks.length;
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${CLAUDE_CALLBACK}**`);
    assert.equal(callbacks.length, seen + 1);
    const tokens = await tokenRequest(server.issuer, {
      grant_type: 'authorization_code', client_id: client.client_id, code: callbacks.at(-1)!.searchParams.get('code')!, code_verifier: verifier, redirect_uri: CLAUDE_CALLBACK,
    });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    return tokens.body;
  }

  test('after an app\'s prompt=login signs bob in, alice\'s app keeps refreshing as alice, and the browser is bob\'s', async () => {
    const context = await chromium.newContext();
    try {
      const page = await context.newPage();
      const violations = collectCspViolations(page);
      const callbacks = await interceptCallback(page, CLAUDE_CALLBACK);

      const alice = await connectAs(page, callbacks, 'alice');
      assert.equal(decodeJwt(alice.access_token as string).sub, await userId('alice'));

      const bob = await connectAs(page, callbacks, 'bob', { prompt: 'login' });
      assert.equal(decodeJwt(bob.access_token as string).sub, await userId('bob'), 'the code after the switch is bob\'s');

      const refreshed = await refresh(server.issuer, client, alice.refresh_token as string);
      assert.equal(refreshed.status, 200, `alice's refresh token after the switch: ${JSON.stringify(refreshed.body)}`);
      assert.equal(decodeJwt(refreshed.body.access_token as string).sub, await userId('alice'));
      const bobRefreshed = await refresh(server.issuer, client, bob.refresh_token as string);
      assert.equal(bobRefreshed.status, 200, JSON.stringify(bobRefreshed.body));
      assert.equal(decodeJwt(bobRefreshed.body.access_token as string).sub, await userId('bob'));

      // The browser's session is bob's: the account page names bob and lists only bob's app.
      await page.goto(`${server.issuer}/account`);
      assert.equal(await page.locator('.who strong').innerText(), 'bob');
      assert.equal(await page.getByRole('button', { name: /^Revoke / }).count(), 1, 'one app connected as bob; alice\'s is not shown to bob');
      assert.deepEqual(violations, [], 'no CSP violations on the way (the end of alice\'s session is an auto-submitted form)');
    } finally {
      await context.close();
    }
  });

  test('signing in as bob on a sign-in page opened while alice was signed in ends alice\'s session, not her app\'s access', async () => {
    // The app's sign-in page is opened while alice's session stands (prompt=login), and bob
    // signs in there; then the app asks again without prompt=login, as it would next time: the
    // browser answers as bob, with no sign-in page.
    const context = await chromium.newContext();
    try {
      const page = await context.newPage();
      const callbacks = await interceptCallback(page, CLAUDE_CALLBACK);
      const alice = await connectAs(page, callbacks, 'alice');
      await connectAs(page, callbacks, 'bob', { prompt: 'login' });

      const { verifier, challenge } = createPkce();
      // The browser context's own requests (its cookies), stopping at the redirect to the app.
      const answer = await context.request.get(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, state: 'next-time' }, challenge).href, { maxRedirects: 0 });
      assert.equal(answer.status(), 303, await answer.text());
      const callback = new URL(answer.headers().location!);
      assert.ok(callback.href.startsWith(CLAUDE_CALLBACK), callback.href);
      assert.equal(callback.searchParams.get('state'), 'next-time');
      const tokens = await tokenRequest(server.issuer, {
        grant_type: 'authorization_code', client_id: client.client_id, code: callback.searchParams.get('code')!, code_verifier: verifier, redirect_uri: CLAUDE_CALLBACK,
      });
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      assert.equal(decodeJwt(tokens.body.access_token as string).sub, await userId('bob'));

      const refreshed = await refresh(server.issuer, client, alice.refresh_token as string);
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      assert.equal(decodeJwt(refreshed.body.access_token as string).sub, await userId('alice'));
    } finally {
      await context.close();
    }
  });
});
