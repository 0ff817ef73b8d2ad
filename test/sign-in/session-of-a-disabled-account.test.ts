/**
 * A browser still signed in as an account that has since been disabled, its session left in the
 * database (an operator set `disabled: true` on a user in the config file and restarted: before
 * 40a69a6 that left the sessions, and a start that stops before it has ended them still does).
 * oidc-provider saw only the session's account id, skipped the sign-in, and failed on the grant
 * it never loaded for an account findAccount refused: every authorization in that browser ended
 * on "Something went wrong" (500). It now asks for a sign-in, as for a browser without a session.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { Browser } from '../helpers/browser.ts';
import { collectCspViolations, interceptCallback, launchChromium } from '../helpers/chromium.ts';
import { authorizeUrl, CLAUDE_CALLBACK, connect, registerClient, tokenRequest, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const RESOURCE = 'http://localhost:4001/mcp';

describe('a browser signed in as an account disabled since', () => {
  let server: TestAuthServer;
  let chromium: Chromium;
  let client: RegisteredClient;

  before(async () => {
    server = await startAuthServer({
      configure(config) {
        config.authServer.users = [
          { username: 'leaver', password: 'leaver-password', scopes: ['mcp:read'], disabled: false },
          { username: 'colleague', password: 'colleague-password', scopes: ['mcp:read'], disabled: false },
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

  /**
   * Disables `leaver` by the flag alone, the state a session can outlive: a start that set the
   * config file's `disabled: true` and stopped before ending the user's sessions (or a version
   * before 40a69a6, which never ended them).
   */
  async function disableLeaverLeavingSessions(): Promise<void> {
    const leaver = await server.auth.users.findByUsername('leaver');
    await server.auth.users.update(leaver!.id, { disabled: true });
  }

  async function enableLeaver(): Promise<void> {
    const leaver = await server.auth.users.findByUsername('leaver');
    await server.auth.users.update(leaver!.id, { disabled: false });
  }

  async function signInByClicking(page: Page, username: string, password: string): Promise<void> {
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  /** Connects the app as `leaver` in a fresh Chromium context, which keeps the session. */
  async function connectedAsLeaver(): Promise<{ context: BrowserContext; page: Page; callbacks: URL[]; violations: string[] }> {
    const context = await chromium.newContext();
    const page = await context.newPage();
    const violations = collectCspViolations(page);
    const callbacks = await interceptCallback(page, CLAUDE_CALLBACK);
    await page.goto(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge).href);
    await signInByClicking(page, 'leaver', 'leaver-password');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${CLAUDE_CALLBACK}**`);
    assert.ok(callbacks.at(-1)?.searchParams.get('code'), 'connected as leaver');
    return { context, page, callbacks, violations };
  }

  test('the app\'s next authorization shows the sign-in page, which refuses the disabled account and lets another one in', async () => {
    const { context, page, callbacks, violations } = await connectedAsLeaver();
    await disableLeaverLeavingSessions();
    try {
      const { verifier, challenge } = createPkce();
      const response = await page.goto(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, state: 'after-disable' }, challenge).href);
      assert.equal(response?.status(), 200, await page.locator('main').innerText());
      assert.equal(await page.title(), 'Sign in · Gatehouse');

      await signInByClicking(page, 'leaver', 'leaver-password');
      assert.match(await page.getByRole('alert').innerText(), /Incorrect username or password\./);

      await signInByClicking(page, 'colleague', 'colleague-password');
      await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
      assert.match(await page.locator('.lead').innerText(), /as colleague\./);
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL(`${CLAUDE_CALLBACK}**`);
      const callback = callbacks.at(-1)!;
      assert.equal(callback.searchParams.get('state'), 'after-disable');
      const tokens = await tokenRequest(server.issuer, {
        grant_type: 'authorization_code', client_id: client.client_id, code: callback.searchParams.get('code')!, code_verifier: verifier, redirect_uri: CLAUDE_CALLBACK,
      });
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      const colleague = await server.auth.users.findByUsername('colleague');
      assert.equal(decodeJwt(tokens.body.access_token as string).sub, colleague!.id);
      assert.deepEqual(violations, [], 'no CSP violations on the way');
    } finally {
      await context.close();
      await enableLeaver();
    }
  });

  // Signing out only takes access away, so it must work whatever the account's state: the Sign
  // out button of an account page opened before the account was disabled (or set back to waiting
  // for approval) answered 403 and left the browser signed in; and the 403 of a page opened after
  // it offered no Sign out at all.
  const signOutCases: Array<{ change: { disabled: true } | { pending: true }; openedAfter?: string }> = [
    { change: { disabled: true } },
    { change: { pending: true } },
    { change: { disabled: true }, openedAfter: '/account' },
    { change: { disabled: true }, openedAfter: '/admin' },
  ];
  for (const { change, openedAfter } of signOutCases) {
    const state = Object.keys(change)[0];
    const name = openedAfter
      ? `${openedAfter} opened after the account was made ${state} refuses it with 403 and offers a Sign out that ends the session`
      : `Sign out on the account page opened before ends the session of an account now ${state}`;
    test(name, async () => {
      const context = await chromium.newContext();
      const leaver = await server.auth.users.findByUsername('leaver');
      try {
        const page = await context.newPage();
        const violations = collectCspViolations(page);
        await page.goto(new URL('/account', server.issuer).href);
        await signInByClicking(page, 'leaver', 'leaver-password');
        await page.getByRole('heading', { name: 'Your connected apps' }).waitFor();
        await server.auth.users.update(leaver!.id, change);
        if (openedAfter) {
          const refused = await page.goto(new URL(openedAfter, server.issuer).href);
          assert.equal(refused?.status(), 403);
          assert.match(await page.getByRole('alert').innerText(), /disabled or waiting for approval/);
        }

        const [signedOut] = await Promise.all([
          page.waitForResponse((response) => new URL(response.url()).pathname === '/account/sign-out'),
          page.getByRole('button', { name: 'Sign out' }).click(),
        ]);
        await page.waitForLoadState();
        assert.equal(signedOut.status(), 200, await page.locator('main').innerText());
        assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Signed out');

        const again = await page.goto(new URL('/account', server.issuer).href);
        assert.equal(again?.status(), 200);
        assert.equal(await page.title(), 'Sign in · Gatehouse', 'the session is gone: the account page asks for a sign-in');
        assert.deepEqual(violations, []);
      } finally {
        await context.close();
        await server.auth.users.update(leaver!.id, { disabled: false, pending: false });
      }
    });
  }

  test('prompt=none sends login_required back to the app, with its state', async () => {
    const browser = new Browser(server.issuer);
    await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'leaver', password: 'leaver-password', browser });
    await disableLeaverLeavingSessions();
    try {
      const page = await browser.navigate(authorizeUrl(server.issuer, {
        clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, state: 'silent', extra: { prompt: 'none' },
      }, createPkce().challenge));
      assert.equal(page.status, 303, page.html.slice(0, 400));
      const callback = new URL(page.url);
      assert.equal(`${callback.origin}${callback.pathname}`, CLAUDE_CALLBACK);
      assert.equal(callback.searchParams.get('error'), 'login_required');
      assert.equal(callback.searchParams.get('state'), 'silent');
      assert.equal(callback.searchParams.get('code'), null);
    } finally {
      await enableLeaver();
    }
  });
});
