/**
 * A browser signed in as admin (from /admin) that connects an app is asked to allow it as admin;
 * "Not admin? Sign in as someone else" on the consent page signs in another account for this same
 * connection, and the app gets that account's access, not the admin's. The browser's session
 * becomes the new account's (oidc-provider ends the old one), so /admin no longer opens as admin;
 * the apps admin connected keep their access.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { Browser as Chromium } from 'playwright-core';
import { collectCspViolations, interceptCallback, launchChromium, signInToAdmin } from '../helpers/chromium.ts';
import { authorizeUrl, CLAUDE_CALLBACK, registerClient, tokenRequest, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const RESOURCE = 'http://localhost:4001/mcp';

describe('consent page: sign in as someone else', () => {
  let server: TestAuthServer;
  let chromium: Chromium;
  let client: RegisteredClient;

  before(async () => {
    server = await startAuthServer();
    await server.auth.users.create({ username: 'alice', passwordHash: await server.auth.hasher.hash('alice-password'), scopes: ['mcp:read'] });
    chromium = await launchChromium();
    client = await registerClient(server.issuer);
  });
  after(async () => {
    await chromium?.close();
    await server?.close();
  });

  test('signed in as admin, the person switches to alice and the app\'s token is alice\'s', async () => {
    const context = await chromium.newContext();
    try {
      const page = await context.newPage();
      const violations = collectCspViolations(page);
      const callbacks = await interceptCallback(page, CLAUDE_CALLBACK);
      await signInToAdmin(page, server.issuer, 'admin', ADMIN_PASSWORD);

      const { verifier, challenge } = createPkce();
      await page.goto(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read mcp:admin', resource: RESOURCE }, challenge).href);
      await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
      assert.match(await page.locator('.lead').innerText(), /as admin\./, 'the browser\'s session is admin\'s');
      assert.match(await page.locator('form.switch-account').innerText(), /^Not admin\? Sign in as someone else$/);

      await page.getByRole('button', { name: 'Sign in as someone else' }).click();
      await page.getByRole('heading', { name: 'Sign in as someone else' }).waitFor();
      assert.equal(await page.getByLabel('Username').inputValue(), '', 'the username is not admin\'s');
      assert.match(await page.locator('#switch-note').innerText(), /signed in as admin\./);

      // A wrong password keeps the person on the switch form.
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill('not-her-password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('#login-error').waitFor();
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Sign in as someone else');

      await page.getByLabel('Password').fill('alice-password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
      assert.match(await page.locator('.lead').innerText(), /as alice\./);
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL(`${CLAUDE_CALLBACK}**`);

      const tokens = await tokenRequest(server.issuer, {
        grant_type: 'authorization_code', client_id: client.client_id, code: callbacks.at(-1)!.searchParams.get('code')!, code_verifier: verifier, redirect_uri: CLAUDE_CALLBACK,
      });
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      const claims = decodeJwt(tokens.body.access_token as string);
      assert.equal(claims.sub, (await server.auth.users.findByUsername('alice'))!.id);
      assert.equal(claims.scope, 'mcp:read', 'alice\'s scope, not the admin\'s');

      // The browser is alice's now: /admin refuses her.
      const admin = await page.goto(`${server.issuer}/admin`);
      assert.equal(admin?.status(), 403);
      assert.deepEqual(violations, [], 'no CSP violations (the end of admin\'s session is an auto-submitted form)');
    } finally {
      await context.close();
    }
  });

  test('in a consent step the password form signs in only with the switch form\'s token', async () => {
    const context = await chromium.newContext();
    try {
      const page = await context.newPage();
      await signInToAdmin(page, server.issuer, 'admin', ADMIN_PASSWORD);
      const { challenge } = createPkce();
      await page.goto(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, challenge).href);
      await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
      const uid = new URL(page.url()).pathname.split('/').at(-1)!;
      const consentToken = await page.locator('form.switch-account input[name=csrf]').inputValue();
      const cases: Array<{ what: string; csrf: string }> = [
        { what: 'the consent page\'s own token', csrf: consentToken },
        { what: 'no token', csrf: '' },
      ];
      for (const { what, csrf } of cases) {
        const answer = await context.request.post(`${server.issuer}/interaction/${uid}/login`, {
          form: { csrf, username: 'alice', password: 'alice-password' }, maxRedirects: 0, headers: { accept: 'text/html' },
        });
        assert.equal(answer.status(), 403, what);
      }
      await page.reload();
      assert.match(await page.locator('.lead').innerText(), /as admin\./, 'still admin\'s consent');
    } finally {
      await context.close();
    }
  });
});
