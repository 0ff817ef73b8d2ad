/**
 * The admin pages' name fields take what the server takes: a name of up to 100 characters, counted
 * as the server counts them (code points, check-client-name.ts). A `maxlength` counts UTF-16 code
 * units, so a maxlength of 100 cut a pasted name of 100 emoji to 50 before it was sent.
 *
 * Nor does any other field but a password cut what is pasted into it: a `maxlength` cut a pasted
 * identifier to the server's limit without a word, and the server, which trims the blanks around
 * it, took the shorter, different one (a username of 64 characters pasted with a space in front
 * was created without its last character). The server checks every length and says so.
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

  // [page, field, a paste longer than the field's former maxlength]
  const identifierFields: Array<[string, string, string]> = [
    ['/admin/users', '#new-username', ` ${'u'.repeat(64)}`],
    ['/admin/clients', '#client-id', ` ${'c'.repeat(64)}`],
    ['/admin/service-accounts', '#service-id', ` ${'s'.repeat(64)}`],
    ['/admin/redirect-uris', '#new-uri', `https://app.example/${'p'.repeat(2000)}`],
    ['/admin/redirect-uris', '#new-scheme', 'm'.repeat(101)],
    ['/admin/redirect-uris', '#new-host', `${'h'.repeat(260)}.example`],
    ['/admin/trusted-idps', '#idp-issuer', `https://idp.example/${'i'.repeat(2000)}`],
    ['/admin/trusted-idps', '#idp-id', 'd'.repeat(33)],
    ['/admin/trusted-idps', '#idp-algorithms', 'RS256 '.repeat(40)],
    ['/admin/trusted-idps', '#idp-clients', 'client-id\n'.repeat(900)],
  ];
  for (const [path, input, pasted] of identifierFields) {
    test(`${path}: ${input} keeps a paste of ${pasted.length} characters whole, for the server to check`, async () => {
      await page.goto(`${server.issuer}${path}`);
      await page.locator(input).click();
      await page.keyboard.insertText(pasted);
      assert.equal(await page.locator(input).inputValue(), pasted);
    });
  }

  test('a username of 64 characters pasted with a space in front is created as those 64 characters', async () => {
    const name = `n${'a'.repeat(62)}z`;
    await page.goto(`${server.issuer}/admin/users`);
    await page.locator('#new-username').click();
    await page.keyboard.insertText(` ${name}`);
    await page.locator('#new-password').fill('a long enough password');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.waitForURL('**/admin/users/*');
    assert.ok(await server.auth.users.findByUsername(name), 'the user is named as pasted, trimmed');
    assert.equal(await server.auth.users.findByUsername(name.slice(0, -1)), undefined, 'not as the page cut it');
  });

  test('a username of 65 characters is refused by the server with its message, not cut by the page', async () => {
    await page.goto(`${server.issuer}/admin/users`);
    await page.locator('#new-username').click();
    await page.keyboard.insertText('q'.repeat(65));
    await page.locator('#new-password').fill('a long enough password');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.locator('#new-username[aria-invalid="true"]').waitFor();
    assert.match(await page.locator('body').innerText(), /Usernames are 1 to 64 letters/);
    assert.equal(await server.auth.users.findByUsername('q'.repeat(64)), undefined);
  });
});
