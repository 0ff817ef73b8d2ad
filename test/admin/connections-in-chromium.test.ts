/**
 * The "Connections" pages in Chromium, as an admin uses them after real connections failed (a
 * replayed code, a denied consent, another resource asked for; the requests as claude.ai sends
 * them, test/helpers/oauth-flow.ts): the list, filtering it with the form, opening an attempt to
 * read its timeline and why it failed; at desktop and phone width
 * (the tables scroll in their own box, the page never wider than the window), screenshots saved
 * (test-output/screenshots/), no CSP violation on the way. Then a user's "My apps" with only
 * their own failed attempt.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { collectCspViolations, launchChromium, screenshot } from '../helpers/chromium.ts';
import { freePort } from '../helpers/net.ts';
import { startAuthorization } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { createUser } from './support/admin-browser.ts';
import { denyConsent, registerAs, replayCode } from './support/failing-connections.ts';

const PHONE = { width: 375, height: 740 };
const DESKTOP = { width: 1280, height: 800 };

describe('connections pages in Chromium', () => {
  let server: TestAuthServer;
  const clock = TestClock.ahead(0);
  let chromium: Chromium;
  let context: BrowserContext;
  let page: Page;
  let violations: string[] = [];
  let claudeCode: string;
  let chatgpt: string;
  let cursor: string;

  before(async () => {
    server = await startAuthServer({ clock, env: { CONNECTION_EVENTS_URI: `http://127.0.0.1:${await freePort()}/connections/events` } });
    await createUser(server, 'bob', 'bob password 1234', ['mcp:read']);
    await createUser(server, 'carol', 'carol password 1234', ['mcp:read']);
    const claudeCodeClient = await registerAs(server, 'Claude Code');
    claudeCode = claudeCodeClient.client_id;
    await replayCode(server, claudeCodeClient, 'bob', 'bob password 1234');
    clock.advance(60);
    const chatgptClient = await registerAs(server, 'ChatGPT');
    chatgpt = chatgptClient.client_id;
    await denyConsent(server, chatgptClient, 'carol', 'carol password 1234');
    clock.advance(60);
    cursor = (await registerAs(server, 'Cursor')).client_id;
    const { page: refused } = await startAuthorization(server.issuer, { clientId: cursor, scope: 'mcp:read', resource: 'https://other.example/mcp' });
    assert.equal(new URL(refused.url).searchParams.get('error'), 'invalid_target');
    clock.advance(60);
    chromium = await launchChromium();
    context = await chromium.newContext({ viewport: DESKTOP });
    page = await context.newPage();
    violations = collectCspViolations(page);
  });
  after(async () => {
    await context?.close();
    await chromium?.close();
    await server?.close();
  });

  /** Screenshot at desktop and phone width; at phone width the page must not scroll sideways. */
  async function atBothWidths(name: string): Promise<void> {
    await screenshot(page, `${name}-desktop`);
    await page.setViewportSize(PHONE);
    await screenshot(page, `${name}-phone`);
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
    assert.ok(scrollWidth <= innerWidth, `${name} at ${PHONE.width} px: the page is ${scrollWidth} px wide`);
    await page.setViewportSize(DESKTOP);
  }

  /** The rows of the recorded attempts (the admin's own sign-in through the gatehouse client may be listed too). */
  const rowTexts = async () => (await page.locator('table.connections tbody tr').allInnerTexts())
    .map((t) => t.replace(/\s+/g, ' ').trim())
    .filter((row) => [claudeCode, chatgpt, cursor].some((id) => row.includes(id)));

  test('the admin signs in and opens Connections from the navigation: every attempt, newest first, with why', async () => {
    await page.goto(`${server.issuer}/admin`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Administration' }).waitFor();
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Connections' }).click();
    await page.getByRole('heading', { name: 'Connections' }).waitFor();
    const rows = await rowTexts();
    assert.equal(rows.length, 3, rows.join('\n'));
    assert.match(rows[0]!, new RegExp(`Cursor ${cursor} not signed in failed authorization request resource https://other\\.example/mcp does not match http://localhost:4001/mcp invalid_target`));
    assert.match(rows[1]!, new RegExp(`ChatGPT ${chatgpt} carol failed .* the user denied access access_denied`));
    assert.match(rows[2]!, new RegExp(`Claude Code ${claudeCode} bob failed code exchanged for tokens authorization code already used — the grant was revoked invalid_grant`));
    await atBothWidths('connections-list');
  });

  test('filtering with the form: failed attempts of bob', async () => {
    await page.getByLabel('User').fill('bob');
    await page.getByLabel('Outcome').selectOption('failed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/outcome=failed/);
    const rows = await rowTexts();
    assert.equal(rows.length, 1, rows.join('\n'));
    assert.match(rows[0]!, /Claude Code .* bob failed/);
    assert.match(await page.locator('p.warning[role=alert]').innerText(), /The MCP server's steps are missing/, 'the resource server is not running here');
    assert.equal(await page.getByLabel('User').inputValue(), 'bob', 'the filter stays in the form');
    await screenshot(page, 'connections-filtered');
  });

  test('a user that does not exist is refused by the field, typed text kept', async () => {
    await page.getByLabel('User').fill('bbo');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator('#listConnections-user-error').waitFor();
    assert.equal(await page.locator('#listConnections-user-error').innerText(), 'There is no user bbo.');
    assert.equal(await page.getByLabel('User').inputValue(), 'bbo');
    assert.equal(await page.getByLabel('User').getAttribute('aria-invalid'), 'true');
  });

  test('opening an attempt: the explanation on top and the timeline', async () => {
    await page.goto(`${server.issuer}/admin/connections?user=bob&outcome=failed`);
    await page.locator('table.connections tbody tr').first().getByRole('link', { name: /UTC$/ }).click();
    await page.getByRole('heading', { name: 'Connection attempt' }).waitFor();
    const explanation = page.locator('section.explanation');
    assert.match(await explanation.getByRole('heading').innerText(), /Failed at: code exchanged for tokens/);
    assert.match(await explanation.innerText(), /authorization code already used — the grant was revoked/);
    assert.match(await explanation.innerText(), /invalid_grant · reason code_replayed/);
    const steps = (await page.locator('table.timeline tbody tr').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    assert.deepEqual(steps.map((step) => /^\S+ \S+ UTC auth server (.+?) (ok|refused)/.exec(step)?.[1]), [
      'client registration (DCR)', 'authorization request', 'sign-in', 'consent', 'sent back to the client', 'code exchanged for tokens', 'code exchanged for tokens',
    ], steps.join('\n'));
    assert.match(steps[1]!, /redirect_uri https:\/\/claude\.ai\/api\/mcp\/auth_callback resource http:\/\/localhost:4001\/mcp scope mcp:read/);
    assert.match(steps[6]!, /refused invalid_grant authorization code already used — the grant was revoked/);
    await atBothWidths('connection-attempt');
  });

  test('an unknown attempt is a 404 page', async () => {
    const response = await page.goto(`${server.issuer}/admin/connections/no-such-attempt`);
    assert.equal(response?.status(), 404);
    assert.match(await page.getByRole('alert').innerText(), /There is no such connection attempt/);
  });

  test('no page broke the Content Security Policy', () => {
    assert.deepEqual(violations, []);
  });

  test('bob\'s My apps shows his failed attempt in plain words, not carol\'s', async () => {
    const bob = await (await chromium.newContext({ viewport: PHONE })).newPage();
    const bobViolations = collectCspViolations(bob);
    await bob.goto(`${server.issuer}/account`);
    await bob.getByLabel('Username').fill('bob');
    await bob.getByLabel('Password').fill('bob password 1234');
    await bob.getByRole('button', { name: 'Sign in' }).click();
    const section = bob.getByRole('region', { name: 'Failed connection attempts' });
    await section.waitFor();
    const rows = (await section.locator('tbody tr').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    assert.equal(rows.length, 1, rows.join('\n'));
    assert.match(rows[0]!, /Claude Code \d{4}-\d\d-\d\d \d\d:\d\d UTC Failed at code exchanged for tokens: authorization code already used — the grant was revoked/);
    assert.doesNotMatch(await section.innerText(), /denied|ChatGPT/);
    await screenshot(bob, 'my-apps-failed-attempts-phone');
    const { scrollWidth, innerWidth } = await bob.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
    assert.ok(scrollWidth <= innerWidth, `My apps at ${PHONE.width} px is ${scrollWidth} px wide`);
    assert.deepEqual(bobViolations, []);
  });
});
