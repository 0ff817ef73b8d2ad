/**
 * The failing connections (support/failing-connections.ts) as an admin finds them in Chromium:
 * "Connections" in the admin navigation lists each attempt, and its page shows the timeline with
 * why it failed in plain words and the values that explain it. A screenshot of each attempt's
 * page (test-output/screenshots/connection-*.png); no Content Security Policy violation on the way.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { collectCspViolations, launchChromium, screenshot } from '../helpers/chromium.ts';
import { ADMIN_PASSWORD } from '../helpers/start-auth-server.ts';
import { FAILING_CONNECTIONS, type ScenarioRun } from './support/failing-connections.ts';
import { startScenarioDeployment, type ScenarioDeployment } from './support/scenario-deployment.ts';

/**
 * Text as a reader sees it: the values a reason quotes in backticks are shown as code (the
 * backticks are markup, not text), and lines and cells wrap.
 */
const asShown = (text: string) => text.replace(/`/g, '').replace(/\s+/g, ' ').trim();

describe('failing connections on the admin Connections pages in Chromium', () => {
  let d: ScenarioDeployment;
  const runs = new Map<string, ScenarioRun>();
  let chromium: Chromium;
  let context: BrowserContext;
  let page: Page;
  let violations: string[] = [];

  before(async () => {
    d = await startScenarioDeployment('sqlite');
    for (const scenario of FAILING_CONNECTIONS) await scenario.beforeReset?.(d);
    await d.resetAuthServer();
    for (const scenario of FAILING_CONNECTIONS) runs.set(scenario.key, await scenario.drive(d));
    await d.recorded();
    chromium = await launchChromium();
    context = await chromium.newContext();
    page = await context.newPage();
    violations = collectCspViolations(page);
  });
  after(async () => {
    await context?.close();
    await chromium?.close();
    await d?.close();
  });

  test('the admin signs in and finds "Connections" in the navigation, the resource server\'s steps included', async () => {
    await page.goto(`${d.issuer}/admin`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Administration' }).waitFor();
    await page.getByRole('link', { name: 'Connections', exact: true }).click();
    await page.getByRole('heading', { name: 'Connections' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/admin/connections');
    assert.doesNotMatch(await page.locator('main').innerText(), /unavailable/i, 'no problem reading the resource server\'s events');
    await screenshot(page, 'connections-list');
  });

  for (const scenario of FAILING_CONNECTIONS) {
    test(`${scenario.title}: listed as ${scenario.outcome}, and its page says why`, async () => {
      const run = runs.get(scenario.key)!;
      const { attempts } = await d.auth.auth.connections.list({ clientId: run.clientId });
      assert.equal(attempts.length, 1, JSON.stringify(attempts));
      const attempt = attempts[0]!;
      assert.equal(attempt.outcome, scenario.outcome, JSON.stringify(attempt));

      await page.goto(`${d.issuer}/admin/connections`);
      const link = page.locator(`a[href$="/admin/connections/${attempt.id}"]`);
      const row = page.locator('main tr', { has: link });
      const listed = asShown(await row.innerText());
      assert.ok(listed.includes(run.clientId) || (attempt.clientName !== undefined && listed.includes(attempt.clientName)), `the row names the client: ${listed}`);
      assert.match(listed, new RegExp(scenario.outcome.replace('_', ' '), 'i'));
      if (attempt.explanation) assert.ok(listed.includes(asShown(attempt.explanation.reason)), `the row explains: ${listed}`);

      await row.locator(link).click();
      await page.waitForURL(`**/admin/connections/${attempt.id}`);
      const shown = asShown(await page.locator('main').innerText());
      const expected = scenario.failure ?? scenario.alongTheWay;
      if (expected) {
        assert.ok(shown.includes(expected.error), `the page shows ${expected.error}`);
        for (const value of run.named) assert.ok(shown.includes(value), `the page names ${value}`);
        if (expected.says) assert.match(shown, expected.says);
      }
      if (attempt.explanation) assert.ok(shown.includes(asShown(attempt.explanation.reason)), `the page says why: ${attempt.explanation.reason}`);
      await screenshot(page, `connection-${scenario.key}`);
    });
  }

  test('no Content Security Policy violation on the way', () => {
    assert.deepEqual(violations, []);
  });
});
