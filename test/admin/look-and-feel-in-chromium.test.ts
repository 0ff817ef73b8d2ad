/**
 * The pages a newcomer sees first, in Chromium at desktop (1280 px) and phone (375 px) width:
 * screenshots of each (test-output/screenshots/, not committed), no page wider than a phone's
 * window, the password focused after a wrong one, one warning on a Claude Code consent, success
 * notices in their own style and place, navigation that does not move, a refused form shown
 * again with its input and the message by the field, and client names in the audit log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium, Page } from 'playwright-core';
import { launchChromium, screenshot } from '../helpers/chromium.ts';
import { authorizeUrl, registerClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { RESOURCE } from './support/admin-browser.ts';

const WIDTHS = { desktop: { width: 1280, height: 800 }, phone: { width: 375, height: 740 } } as const;
const PAGES = ['/admin', '/admin/users', '/admin/clients', '/admin/service-accounts', '/admin/redirect-uris', '/admin/audit', '/admin/keys', '/admin/grants', '/admin/connections', '/account'];

describe('look and feel in Chromium, desktop and phone', () => {
  let server: TestAuthServer;
  let chromium: Chromium;
  let page: Page;
  let appClientId: string;

  before(async () => {
    server = await startAuthServer();
    // A client with a long name and long redirect URIs, so tables have something wide to hold.
    appClientId = (await server.auth.admin.clients.createStatic({
      name: 'Team dashboard', authMethod: 'client_secret_basic', clientId: 'team-dashboard-production-client',
      redirectUris: ['https://dashboard.internal.example.com/oauth/callback/with/a/rather/long/path'],
    }, { actor: { name: 'admin' } })).clientId;
    chromium = await launchChromium();
    page = await (await chromium.newContext({ viewport: WIDTHS.desktop })).newPage();
  });
  after(async () => {
    await chromium?.close();
    await server?.close();
  });

  /** Screenshots `name` at both widths; at phone width the page must not scroll sideways. */
  async function atBothWidths(name: string): Promise<void> {
    for (const [label, size] of Object.entries(WIDTHS)) {
      await page.setViewportSize(size);
      await screenshot(page, `look-${name}-${label}`);
      if (label === 'phone') {
        const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
        assert.ok(scrollWidth <= innerWidth, `${name} at ${size.width} px: the page is ${scrollWidth} px wide`);
      }
    }
    await page.setViewportSize(WIDTHS.desktop);
  }

  test('after a wrong password the username is kept and the password field has focus', async () => {
    await page.goto(`${server.issuer}/admin`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    assert.equal(await page.getByLabel('Username').inputValue(), 'admin');
    await page.waitForFunction(() => document.activeElement?.id === 'password', undefined, { timeout: 3000 });
    await atBothWidths('sign-in-after-wrong-password');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Administration' }).waitFor();
  });

  test('every admin page fits a phone\'s width (tables scroll in their own box)', async () => {
    for (const path of PAGES) {
      await page.goto(`${server.issuer}${path}`);
      await atBothWidths(path.slice(1).replaceAll('/', '-'));
    }
  });

  test('the active section is not wider than itself inactive: the navigation does not move', async () => {
    const widthOfUsers = async () => page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Users' }).evaluate((a) => a.getBoundingClientRect().width);
    await page.goto(`${server.issuer}/admin`);
    const inactive = await widthOfUsers();
    await page.goto(`${server.issuer}/admin/users`);
    assert.equal(await page.getByRole('link', { name: 'Users', exact: true }).first().getAttribute('aria-current'), 'page');
    assert.equal(await widthOfUsers(), inactive);
  });

  test('a refused form comes back with the input kept and the message by the field; then a success notice of its own', async () => {
    await page.goto(`${server.issuer}/admin/users`);
    assert.match(await page.locator('#new-password-rule').innerText(), /At least 12 characters/, 'the form states the password rule');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password', { exact: true }).fill('a long enough password');
    await page.getByRole('button', { name: 'Create user' }).click();
    const username = page.getByLabel('Username');
    await page.locator('#createUser-username-error').waitFor();
    assert.equal(await username.inputValue(), 'admin');
    assert.equal(await username.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator(`#${await username.getAttribute('aria-describedby')}`).innerText(), 'A user named admin already exists.');
    assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '', 'the password is never sent back');
    await atBothWidths('users-refused');

    await username.fill('newcomer');
    await page.getByLabel('Password', { exact: true }).fill('a long enough password');
    await page.getByRole('button', { name: 'Create user' }).click();
    const notice = page.getByRole('status');
    await notice.waitFor();
    assert.match(await notice.innerText(), /The user was created/);
    assert.equal(await notice.getAttribute('class'), 'notice success');
    const style = await notice.evaluate((el) => ({ position: getComputedStyle(el).position, background: getComputedStyle(el).backgroundColor }));
    assert.equal(style.position, 'fixed', 'in a fixed place: the page does not move down');
    const warningBackground = await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--warn-bg').trim());
    assert.notEqual(style.background, warningBackground);
    await atBothWidths('user-created');
  });

  test('the audit log names clients, with the id as the tooltip, in one lookup per page', async () => {
    await page.goto(`${server.issuer}/admin/audit?event=client.created`);
    const cell = page.locator('td span[title]', { hasText: 'Team dashboard' });
    assert.equal(await cell.getAttribute('title'), appClientId);
    await atBothWidths('audit-client-names');
  });

  test('a Claude Code-shaped client (loopback, registered just now) gets exactly one warning on consent', async () => {
    const redirectUri = 'http://127.0.0.1:53682/callback';
    const native = await registerClient(server.issuer, { client_name: 'Claude Code', redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none' });
    await page.goto(authorizeUrl(server.issuer, { clientId: native.client_id, redirectUri, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge).href);
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    const warnings = page.locator('main .warning');
    assert.equal(await warnings.count(), 1);
    const text = await warnings.innerText();
    assert.match(text, /address on your own computer/);
    assert.match(text, /registered itself with this server moments ago/);
    assert.equal(text.match(/Continue only if/g)?.length, 1, 'asked once');
    await atBothWidths('consent-claude-code');
  });
});
