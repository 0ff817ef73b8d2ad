import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { Browser as Chromium, Page } from 'playwright-core';
import { collectCspViolations, interceptCallback, launchChromium, screenshot } from '../helpers/chromium.ts';
import { authorizeUrl, CLAUDE_CALLBACK, registerClient, tokenRequest, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const RESOURCE = 'http://localhost:4001/mcp';

describe('sign-in and consent pages in Chromium', () => {
  let server: TestAuthServer;
  let chromium: Chromium;
  let client: RegisteredClient;

  before(async () => {
    server = await startAuthServer({
      configure(config) {
        config.authServer.signInThrottle = { maxFailures: 3, maxFailuresPerIp: 1000, slowDownAfter: 100, window: 900, lockDuration: 900 };
      },
    });
    chromium = await launchChromium();
    client = await registerClient(server.issuer, {
      client_name: 'Claude <script>alert(1)</script>',
      redirect_uris: [CLAUDE_CALLBACK],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
    });
  });
  after(async () => {
    await chromium?.close();
    await server?.close();
  });

  /** A fresh browser context (no cookies) on the authorization URL; CSP violations are collected. */
  async function open(scope = 'mcp:read mcp:write') {
    const context = await chromium.newContext();
    const page = await context.newPage();
    const violations = collectCspViolations(page);
    const callbacks = await interceptCallback(page, CLAUDE_CALLBACK);
    const { verifier, challenge } = createPkce();
    await page.goto(authorizeUrl(server.issuer, { clientId: client.client_id, scope, resource: RESOURCE, state: 'browser-state' }, challenge).href);
    return { page, context, callbacks, verifier, violations };
  }

  async function signInByClicking(page: Page, username: string, password: string) {
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  async function redeem(code: string, verifier: string) {
    return tokenRequest(server.issuer, { grant_type: 'authorization_code', client_id: client.client_id, code, code_verifier: verifier, redirect_uri: CLAUDE_CALLBACK });
  }

  test('the whole connector flow by clicking: sign in, consent, approve → the client gets a code', async () => {
    const { page, context, callbacks, verifier, violations } = await open();
    await screenshot(page, 'sign-in');
    assert.equal(await page.title(), 'Sign in · Gatehouse');
    assert.match(await page.locator('.issuer').innerText(), /127\.0\.0\.1:\d+/);
    assert.equal(await page.getByLabel('Username').getAttribute('autocomplete'), 'username');
    assert.equal(await page.getByLabel('Password').getAttribute('autocomplete'), 'current-password');

    await signInByClicking(page, 'admin', ADMIN_PASSWORD);
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    await screenshot(page, 'consent');
    // The client's name is shown as text, never run as markup.
    assert.match(await page.locator('.lead').innerText(), /Claude <script>alert\(1\)<\/script>/);
    assert.equal(await page.locator('main script').count(), 0);
    assert.match(await page.locator('main').innerText(), /sent back to claude\.ai/);
    assert.match(await page.locator('main').innerText(), /registered itself with this server moments ago/);
    assert.match(await page.locator('main').innerText(), /Use the tools that make changes/);

    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${CLAUDE_CALLBACK}**`);
    await screenshot(page, 'client-callback');
    const callback = callbacks.at(-1)!;
    assert.equal(callback.searchParams.get('state'), 'browser-state');
    assert.equal(callback.searchParams.get('iss'), server.issuer);
    const tokens = await redeem(callback.searchParams.get('code')!, verifier);
    assert.equal(tokens.status, 200);
    assert.equal(decodeJwt(tokens.body.access_token as string).scope, 'mcp:read mcp:write');
    assert.deepEqual(violations, [], 'no CSP violations on the way');
    await context.close();
  });

  test('deny sends access_denied back to the client', async () => {
    const { page, context, callbacks } = await open();
    await signInByClicking(page, 'admin', ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.waitForURL(`${CLAUDE_CALLBACK}**`);
    const callback = callbacks.at(-1)!;
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.equal(callback.searchParams.get('state'), 'browser-state');
    assert.equal(callback.searchParams.get('code'), null);
    await context.close();
  });

  test('unticking a scope on the consent page gives a token with fewer scopes', async () => {
    const { page, context, callbacks, verifier } = await open();
    await signInByClicking(page, 'admin', ADMIN_PASSWORD);
    await page.getByRole('checkbox', { name: /mcp:write/ }).uncheck();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${CLAUDE_CALLBACK}**`);
    const tokens = await redeem(callbacks.at(-1)!.searchParams.get('code')!, verifier);
    assert.equal(decodeJwt(tokens.body.access_token as string).scope, 'mcp:read');
    await context.close();
  });

  test('a wrong password shows one generic message, announced next to the fields', async () => {
    const { page, context } = await open();
    await signInByClicking(page, 'admin', 'not the password');
    const alert = page.getByRole('alert');
    assert.equal(await alert.innerText(), 'Incorrect username or password.');
    assert.equal(await page.getByLabel('Password').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByLabel('Username').inputValue(), 'admin', 'the username is kept');
    await screenshot(page, 'sign-in-wrong-password');
    await signInByClicking(page, 'nobody-by-that-name', 'not the password');
    assert.equal(await page.getByRole('alert').innerText(), 'Incorrect username or password.', 'unknown user: same message');
    await context.close();
  });

  test('after too many failures even the right password is refused, with the same message', async () => {
    await server.auth.users.create({ username: 'locky', passwordHash: await server.auth.hasher.hash('locky-password'), scopes: ['mcp:read'] });
    const { page, context } = await open();
    for (let i = 0; i < 3; i += 1) await signInByClicking(page, 'locky', `wrong-${i}`);
    await signInByClicking(page, 'locky', 'locky-password');
    assert.equal(await page.getByRole('alert').innerText(), 'Incorrect username or password.');
    assert.equal(await page.getByRole('heading', { name: 'Sign in' }).count(), 1, 'still on the sign-in page');
    await screenshot(page, 'sign-in-locked');
    await context.close();
  });

  test('keyboard only: sign in and approve without a mouse (a loopback client, as Claude Code)', async () => {
    // A real callback server on loopback, as a native client runs one.
    const hits: URL[] = [];
    const callbackServer = createServer((req, res) => {
      hits.push(new URL(req.url!, 'http://127.0.0.1'));
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><title>Done</title><p>You can close this window.</p>');
    });
    await new Promise<void>((resolve) => callbackServer.listen(0, '127.0.0.1', resolve));
    const redirectUri = `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}/callback`;
    const native = await registerClient(server.issuer, { client_name: 'Claude Code', redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none' });
    const context = await chromium.newContext();
    const page = await context.newPage();
    try {
      const { challenge } = createPkce();
      await page.goto(authorizeUrl(server.issuer, { clientId: native.client_id, redirectUri, scope: 'mcp:read', resource: RESOURCE }, challenge).href);
      // The username field has focus on load (autofocus is applied just after load).
      await page.waitForFunction(() => document.activeElement?.id === 'username', undefined, { timeout: 3000 });
      await page.keyboard.type('admin');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'password');
      await page.keyboard.type(ADMIN_PASSWORD);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
      assert.match(await page.locator('main').innerText(), /address on your own computer/, 'loopback warning');
      // Tab through the scope checkbox to the Allow button; focus is visible.
      let focused = '';
      for (let i = 0; i < 10 && focused !== 'Allow'; i += 1) {
        await page.keyboard.press('Tab');
        focused = await page.evaluate(() => (document.activeElement as HTMLElement | null)?.innerText ?? '');
      }
      assert.equal(focused, 'Allow');
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
      assert.notEqual(outline, 'none', 'focus is visible');
      await screenshot(page, 'consent-keyboard-focus');
      await page.keyboard.press('Enter');
      await page.waitForURL(`${redirectUri}?**`);
      // Chromium may also ask the callback server for /favicon.ico.
      const callback = hits.find((hit) => hit.pathname === '/callback');
      assert.ok(callback?.searchParams.get('code'), 'the native client received a code');
    } finally {
      await context.close();
      callbackServer.close();
    }
  });

  test('pages fit a phone screen without sideways scrolling', async () => {
    const context = await chromium.newContext({ viewport: { width: 360, height: 740 }, isMobile: true });
    const page = await context.newPage();
    const { challenge } = createPkce();
    await page.goto(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, challenge).href);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
    await screenshot(page, 'sign-in-phone');
    await context.close();
  });
});
