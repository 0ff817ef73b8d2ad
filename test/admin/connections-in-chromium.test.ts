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
import type { ConnectionAttempt, ConnectionEvent } from '../../apps/shared/connection-events.ts';
import { collectCspViolations, launchChromium, screenshot } from '../helpers/chromium.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { createUser } from './support/admin-browser.ts';
import { FixedConnectionLog } from './support/fixed-connection-log.ts';

const T0 = Date.parse('2026-12-01T14:00:00Z');
const PHONE = { width: 375, height: 740 };
const DESKTOP = { width: 1280, height: 800 };
const LONG_CLIENT = 'https://claude.ai/oauth/claude-code-client-metadata';

function event(at: number, fields: Partial<ConnectionEvent> & Pick<ConnectionEvent, 'step'>): ConnectionEvent {
  return { id: `e${at}-${fields.step}`, at, app: 'auth-server', outcome: 'ok', ...fields };
}

describe('connections pages in Chromium', () => {
  let server: TestAuthServer;
  let chromium: Chromium;
  let context: BrowserContext;
  let page: Page;
  let violations: string[] = [];
  let bobId: string;

  before(async () => {
    const log = new FixedConnectionLog([]);
    server = await startAuthServer({ connectionLog: log });
    bobId = await createUser(server, 'bob', 'bob password 1234', ['mcp:read']);
    const carolId = await createUser(server, 'carol', 'carol password 1234', ['mcp:read']);
    const resourceMismatch = 'resource `http://localhost:4001/mcp/` does not match `http://localhost:4001/mcp`';
    const attempts: ConnectionAttempt[] = [
      {
        id: 'attempt-resource', startedAt: T0, lastAt: T0 + 4000, clientId: LONG_CLIENT, clientName: 'Claude Code', accountId: bobId, username: 'bob',
        ip: '127.0.0.1', userAgent: 'claude-code/2.0.14 (external, cli) node/22.11.0 with a rather long user agent string', outcome: 'failed', lastStep: 'authorization',
        explanation: { step: 'authorization', error: 'invalid_target', reasonCode: 'resource_mismatch', reason: resourceMismatch },
        events: [
          event(T0, { step: 'mcp_challenge', app: 'resource-server', ip: '127.0.0.1', resource: 'http://localhost:4001/mcp' }),
          event(T0 + 1000, { step: 'resource_metadata', app: 'resource-server', ip: '127.0.0.1' }),
          event(T0 + 2000, { step: 'client_document', clientId: LONG_CLIENT }),
          event(T0 + 4000, { step: 'authorization', outcome: 'refused', error: 'invalid_target', reasonCode: 'resource_mismatch', reason: resourceMismatch, clientId: LONG_CLIENT, accountId: bobId, redirectUri: 'http://localhost:53682/callback', resource: 'http://localhost:4001/mcp/', scope: 'mcp:read mcp:write offline_access' }),
        ],
      },
      {
        id: 'attempt-denied', startedAt: T0 + 60_000, lastAt: T0 + 65_000, clientId: 'dcr-chatgpt', clientName: 'ChatGPT', accountId: carolId, username: 'carol',
        outcome: 'failed', lastStep: 'consent', explanation: { step: 'consent', error: 'access_denied', reasonCode: 'consent_denied', reason: 'the user denied access' },
        events: [event(T0 + 65_000, { step: 'consent', outcome: 'refused', error: 'access_denied', reasonCode: 'consent_denied', reason: 'the user denied access', clientId: 'dcr-chatgpt', accountId: carolId })],
      },
      {
        id: 'attempt-ok', startedAt: T0 + 120_000, lastAt: T0 + 125_000, clientId: 'dcr-chatgpt', clientName: 'ChatGPT', accountId: bobId, username: 'bob',
        outcome: 'connected', lastStep: 'mcp_request', events: [event(T0 + 125_000, { step: 'mcp_request', app: 'resource-server', clientId: 'dcr-chatgpt', accountId: bobId })],
      },
    ];
    log.attempts.push(...attempts);
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

  const rowTexts = async () => (await page.locator('table.connections tbody tr').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());

  test('the admin signs in and opens Connections from the navigation: every attempt, newest first, with why', async () => {
    await page.goto(`${server.issuer}/admin`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Administration' }).waitFor();
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Connections' }).click();
    await page.getByRole('heading', { name: 'Connections' }).waitFor();
    const rows = await rowTexts();
    assert.equal(rows.length, 3);
    assert.match(rows[0]!, /ChatGPT dcr-chatgpt bob connected MCP request with a token/);
    assert.match(rows[1]!, /ChatGPT dcr-chatgpt carol failed consent the user denied access access_denied/);
    assert.match(rows[2]!, /Claude Code https:\/\/claude\.ai\/oauth\/claude-code-client-metadata bob failed authorization request resource http:\/\/localhost:4001\/mcp\/ does not match http:\/\/localhost:4001\/mcp invalid_target/);
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

  test('opening an attempt: the explanation on top and the timeline of both servers', async () => {
    await page.goto(`${server.issuer}/admin/connections?user=bob&outcome=failed`);
    await page.locator('table.connections tbody tr').first().getByRole('link', { name: /UTC$/ }).click();
    await page.getByRole('heading', { name: 'Connection attempt' }).waitFor();
    const explanation = page.locator('section.explanation');
    assert.match(await explanation.getByRole('heading').innerText(), /Failed at: authorization request/);
    assert.match(await explanation.innerText(), /resource http:\/\/localhost:4001\/mcp\/ does not match http:\/\/localhost:4001\/mcp/);
    assert.match(await explanation.innerText(), /invalid_target · reason resource_mismatch/);
    const steps = (await page.locator('table.timeline tbody tr').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    assert.equal(steps.length, 4);
    assert.match(steps[0]!, /MCP server MCP request without a token, answered 401/);
    assert.match(steps[1]!, /MCP server protected resource metadata read/);
    assert.match(steps[2]!, /auth server client metadata document fetched/);
    assert.match(steps[3]!, /auth server authorization request refused invalid_target .*redirect_uri http:\/\/localhost:53682\/callback resource http:\/\/localhost:4001\/mcp\/ scope mcp:read mcp:write offline_access/);
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
    assert.match(rows[0]!, /Claude Code 2026-12-01 14:00 UTC Failed at authorization request: resource http:\/\/localhost:4001\/mcp\/ does not match/);
    assert.doesNotMatch(await section.innerText(), /denied|ChatGPT/);
    await screenshot(bob, 'my-apps-failed-attempts-phone');
    const { scrollWidth, innerWidth } = await bob.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
    assert.ok(scrollWidth <= innerWidth, `My apps at ${PHONE.width} px is ${scrollWidth} px wide`);
    assert.deepEqual(bobViolations, []);
  });
});
