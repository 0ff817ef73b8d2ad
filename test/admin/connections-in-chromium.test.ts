/**
 * The "Connections" pages in Chromium, as an admin uses them: the list, filtering it with the
 * form, opening an attempt to read its timeline and why it failed; at desktop and phone width
 * (the tables scroll in their own box, the page never wider than the window), screenshots saved
 * (test-output/screenshots/), no CSP violation on the way. Then a user's "My apps" with only
 * their own failed attempt.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { collectCspViolations, launchChromium, screenshot } from '../helpers/chromium.ts';
import { freePort } from '../helpers/net.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { createUser } from './support/admin-browser.ts';
import { registerAs } from './support/failing-connections.ts';
import { recordAttempt } from './support/record-attempt.ts';

const PHONE = { width: 375, height: 740 };
const DESKTOP = { width: 1280, height: 800 };
const CLAUDE_CODE_UA = 'claude-code/2.0.14 (external, cli) node/22.11.0 with a rather long user agent string';

describe('connections pages in Chromium', () => {
  let server: TestAuthServer;
  const clock = TestClock.ahead(0);
  let chromium: Chromium;
  let context: BrowserContext;
  let page: Page;
  let violations: string[] = [];
  let claudeCode: string;
  let chatgpt: string;

  before(async () => {
    server = await startAuthServer({ clock, env: { CONNECTION_EVENTS_URI: `http://127.0.0.1:${await freePort()}/connections/events` } });
    const bobId = await createUser(server, 'bob', 'bob password 1234', ['mcp:read']);
    const carolId = await createUser(server, 'carol', 'carol password 1234', ['mcp:read']);
    claudeCode = (await registerAs(server, 'Claude Code')).client_id;
    chatgpt = (await registerAs(server, 'ChatGPT')).client_id;
    const resource = server.config.authServer.resource;
    const trailing = `${resource}/`;
    const mismatch = `resource \`${trailing}\` does not match \`${resource}\``;
    const from = { ip: '127.0.0.1', userAgent: CLAUDE_CODE_UA };
    await recordAttempt(server, clock, [
      { step: 'authorization', outcome: 'ok', clientId: claudeCode, flowId: 'flow-1', redirectUri: 'http://localhost:53682/callback', resource: trailing, scope: 'mcp:read mcp:write offline_access', ...from },
      { step: 'sign_in', outcome: 'ok', clientId: claudeCode, flowId: 'flow-1', accountId: bobId, ...from },
      { step: 'consent', outcome: 'ok', clientId: claudeCode, flowId: 'flow-1', accountId: bobId, grantId: 'grant-1', ...from },
      { step: 'code_exchange', outcome: 'refused', error: 'invalid_target', reasonCode: 'resource_mismatch', reason: mismatch, clientId: claudeCode, accountId: bobId, grantId: 'grant-1', resource: trailing, ...from },
    ]);
    await recordAttempt(server, clock, [
      { step: 'authorization', outcome: 'ok', clientId: chatgpt, flowId: 'flow-2', resource },
      { step: 'sign_in', outcome: 'ok', clientId: chatgpt, flowId: 'flow-2', accountId: carolId },
      { step: 'consent', outcome: 'refused', error: 'access_denied', reasonCode: 'consent_denied', reason: 'the user denied access', clientId: chatgpt, flowId: 'flow-2', accountId: carolId },
    ]);
    await recordAttempt(server, clock, [
      { step: 'authorization', outcome: 'ok', clientId: chatgpt, flowId: 'flow-3', resource },
      { step: 'sign_in', outcome: 'ok', clientId: chatgpt, flowId: 'flow-3', accountId: bobId },
    ]);
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
    .filter((row) => row.includes(claudeCode) || row.includes(chatgpt));

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
    assert.match(rows[0]!, new RegExp(`ChatGPT ${chatgpt} bob in progress sign-in`));
    assert.match(rows[1]!, new RegExp(`ChatGPT ${chatgpt} carol failed consent the user denied access access_denied`));
    assert.match(rows[2]!, new RegExp(`Claude Code ${claudeCode} bob failed code exchanged for tokens resource http://localhost:4001/mcp/ does not match http://localhost:4001/mcp invalid_target`));
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
    assert.match(await explanation.innerText(), /resource http:\/\/localhost:4001\/mcp\/ does not match http:\/\/localhost:4001\/mcp/);
    assert.match(await explanation.innerText(), /invalid_target · reason resource_mismatch/);
    const steps = (await page.locator('table.timeline tbody tr').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    assert.equal(steps.length, 4, steps.join('\n'));
    assert.match(steps[0]!, /auth server authorization request ok redirect_uri http:\/\/localhost:53682\/callback resource http:\/\/localhost:4001\/mcp\/ scope mcp:read mcp:write offline_access/);
    assert.match(steps[1]!, /auth server sign-in ok/);
    assert.match(steps[2]!, /auth server consent ok/);
    assert.match(steps[3]!, /auth server code exchanged for tokens refused invalid_target resource http:\/\/localhost:4001\/mcp\/ does not match http:\/\/localhost:4001\/mcp/);
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
    assert.match(rows[0]!, /Claude Code \d{4}-\d\d-\d\d \d\d:\d\d UTC Failed at code exchanged for tokens: resource http:\/\/localhost:4001\/mcp\/ does not match/);
    assert.doesNotMatch(await section.innerText(), /denied|ChatGPT/);
    await screenshot(bob, 'my-apps-failed-attempts-phone');
    const { scrollWidth, innerWidth } = await bob.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
    assert.ok(scrollWidth <= innerWidth, `My apps at ${PHONE.width} px is ${scrollWidth} px wide`);
    assert.deepEqual(bobViolations, []);
  });
});
