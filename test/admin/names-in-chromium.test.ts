/**
 * The admin pages' name fields take what the server takes: a name of up to 100 characters, counted
 * as the server counts them (code points, check-client-name.ts). A `maxlength` counts UTF-16 code
 * units, so a maxlength of 100 cut a pasted name of 100 emoji to 50 before it was sent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { launchChromium, signInToAdmin } from '../helpers/chromium.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const EMOJI_100 = '🦊'.repeat(100);

describe('admin name fields in Chromium', () => {
  let server: TestAuthServer;
  let chromium: Chromium;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    server = await startAuthServer();
    chromium = await launchChromium();
    context = await chromium.newContext();
    page = await context.newPage();
    await signInToAdmin(page, server.issuer, 'admin', ADMIN_PASSWORD);
  });
  after(async () => {
    await context?.close();
    await chromium?.close();
    await server?.close();
  });

  // Pasted, as a person would (insertText is what a paste inserts, and maxlength cuts it).
  const forms: Array<[page: string, input: string]> = [
    ['/admin/clients', '#client-name'],
    ['/admin/service-accounts', '#service-name'],
  ];
  for (const [path, input] of forms) {
    test(`${path}: a pasted name of 100 emoji is kept whole in the field`, async () => {
      await page.goto(`${server.issuer}${path}`);
      await page.locator(input).click();
      await page.keyboard.insertText(EMOJI_100);
      assert.equal(await page.locator(input).inputValue(), EMOJI_100);
    });
  }

  test('a service account named with 100 pasted emoji is created with that name', async () => {
    await page.goto(`${server.issuer}/admin/service-accounts`);
    await page.locator('#service-name').click();
    await page.keyboard.insertText(EMOJI_100);
    await page.getByLabel('Authentication').selectOption('client_secret_basic');
    await page.getByRole('checkbox', { name: 'mcp:write' }).check();
    await page.getByRole('button', { name: 'Create service account' }).click();
    await page.getByRole('heading', { name: 'Service account created' }).waitFor();
    await page.getByRole('button', { name: `Disable ${EMOJI_100}`, exact: true }).waitFor();
  });

  test('a name of 101 emoji is refused by the server with its message, not cut by the page', async () => {
    await page.goto(`${server.issuer}/admin/service-accounts`);
    await page.locator('#service-name').click();
    await page.keyboard.insertText(`${EMOJI_100}🦊`);
    await page.getByRole('button', { name: 'Create service account' }).click();
    await page.locator('#service-name[aria-invalid="true"]').waitFor();
    assert.match(await page.locator('body').innerText(), /1 to 100 characters/);
  });
});
