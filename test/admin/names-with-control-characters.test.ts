/**
 * Users stored before the rules of 766aff1 and 7d19e7d, whose username or linked federated subject
 * holds a bidirectional formatting character or a control character (rows inserted straight into
 * the database, as older versions wrote them; a subject with a usable email is still linked as the
 * upstream spells it). The admin pages show such a name with those characters written out
 * (`\u202e`, `\x1b`), as the CLI and the connection refusals do, so it never reads as someone
 * else's; and their links and forms reach that user and that link, not another.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { launchChromium, signInToAdmin } from '../helpers/chromium.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const ISSUER = 'https://old-idp.example';
const RESOURCE = 'http://localhost:4001/mcp';
const UNLINK = 'Unlink (disconnects all their apps)';

describe('admin pages for users whose names hold control characters', () => {
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

  /**
   * A user row as an older version could have written it (no username rule), with one linked
   * subject, a grant and a connection attempt.
   */
  async function insertUser(username: string, subject: string): Promise<string> {
    const id = randomUUID();
    const now = Date.now();
    await server.auth.database.run(`INSERT INTO users (id, username, password_hash, scopes, disabled, pending, email, source, created_at, updated_at)
      VALUES (@id, @username, NULL, 'mcp:read', 0, 0, NULL, 'federated', @now, @now)`, { id, username, now });
    await server.auth.database.run(`INSERT INTO federated_identities (issuer, subject, user_id, upstream_id, email, created_at, last_login_at)
      VALUES (@issuer, @subject, @id, 'old-idp', NULL, @now, @now)`, { issuer: ISSUER, subject, id, now });
    const grant = new server.auth.provider.Grant({ accountId: id, clientId: 'some-app' });
    grant.addResourceScope(RESOURCE, 'mcp:read');
    await grant.save();
    await recordAttemptOf(id);
    return id;
  }

  /** A connection attempt of the user (an app they refused), as the sign-in pages record it. */
  async function recordAttemptOf(accountId: string): Promise<void> {
    server.auth.connectionRecorder.record({
      step: 'consent', outcome: 'refused', error: 'access_denied', reasonCode: 'consent_denied', reason: 'the user denied the request',
      clientId: 'some-app', accountId, flowId: randomUUID(),
    });
    await server.auth.connectionRecorder.flush();
  }

  /** The users of the attempts the connections page lists (its refusal, if it refused the filter). */
  async function attemptUsers(): Promise<string[]> {
    if (await page.locator('[aria-invalid="true"]').count()) return [await page.locator('.field-error').innerText()];
    return page.locator('table.connections tbody tr td:nth-child(3)').allInnerTexts();
  }

  // Each name with how the pages write it. 'bob' exists too: a name that reads (or trims) as his
  // must never be shown as his nor lead to his connection attempts.
  const cases: Array<{ what: string; username: string; shown: string; subject: string; subjectShown: string }> = [
    { what: 'a right-to-left override', username: 'eve\u202Enimda', shown: 'eve\\u202enimda', subject: 'emp-\u202E4321', subjectShown: 'emp-\\u202e4321' },
    { what: 'an isolate', username: 'bob\u2067x\u2069', shown: 'bob\\u2067x\\u2069', subject: 'emp-\u20671\u2069', subjectShown: 'emp-\\u20671\\u2069' },
    { what: 'an escape sequence', username: 'mal\u001b[8mbob', shown: 'mal\\x1b[8mbob', subject: 'emp-\u001b[8m2', subjectShown: 'emp-\\x1b[8m2' },
    { what: 'a C1 control', username: 'mal\u009b2Kbob', shown: 'mal\\x9b2Kbob', subject: 'emp-\u009d3', subjectShown: 'emp-\\x9d3' },
    { what: 'a trailing line break', username: 'bob\n', shown: 'bob\\x0a', subject: 'emp-4\n', subjectShown: 'emp-4\\x0a' },
    { what: 'a carriage return', username: 'bob\rx', shown: 'bob\\x0dx', subject: 'emp-\r5', subjectShown: 'emp-\\x0d5' },
    { what: 'a leading tab', username: '\tbob', shown: '\\x09bob', subject: 'emp-\t6', subjectShown: 'emp-\\x096' },
    { what: 'a NUL (SQLite kept it)', username: 'bob\u0000x', shown: 'bob\\x00x', subject: 'emp-\u00007', subjectShown: 'emp-\\x007' },
  ];
  const ids = new Map<string, string>();

  before(async () => {
    await recordAttemptOf((await server.auth.users.create({ username: 'bob', passwordHash: null, scopes: ['mcp:read'] }))!.id);
    for (const { username, subject } of cases) ids.set(username, await insertUser(username, subject));
  });

  for (const { what, username, shown, subjectShown } of cases) {
    test(`${what}: the users list, the user's page and the grants page show the name written out`, async () => {
      const id = ids.get(username)!;
      await page.goto(`${server.issuer}/admin/users`);
      const link = page.getByRole('link', { name: shown, exact: true });
      assert.equal(await link.count(), 1, `the list shows ${shown}: ${await page.locator('main table').last().innerText()}`);
      await link.click();
      await page.waitForURL(`**/admin/users/${id}`);
      assert.equal(await page.locator('h1').innerText(), shown);
      assert.equal(await page.title(), `${shown} · Gatehouse`);
      const linkRow = page.getByRole('row').filter({ has: page.getByRole('button', { name: UNLINK }) });
      assert.equal(await linkRow.getByRole('cell').nth(1).innerText(), subjectShown);
      await page.goto(`${server.issuer}/admin/grants`);
      assert.equal(await page.locator(`main a[href="/admin/users/${id}"]`).innerText(), shown);
    });

    test(`${what}: Connection attempts on the user's page, and their attempts on one of them, list this user's attempts`, async () => {
      await page.goto(`${server.issuer}/admin/users/${ids.get(username)}`);
      await page.getByRole('link', { name: 'Connection attempts' }).click();
      await page.waitForURL('**/admin/connections?**');
      assert.deepEqual(await attemptUsers(), [shown]);
      await page.locator('table.connections tbody a').first().click();
      await page.getByRole('heading', { name: 'Connection attempt' }).waitFor();
      await page.getByRole('link', { name: 'their attempts' }).click();
      await page.waitForURL('**/admin/connections?**');
      assert.deepEqual(await attemptUsers(), [shown]);
    });

    test(`${what}: Unlink on the user's page removes the subject's link`, async () => {
      const id = ids.get(username)!;
      await page.goto(`${server.issuer}/admin/users/${id}`);
      await page.getByRole('button', { name: UNLINK }).click();
      await page.waitForURL('**/admin/users/*?notice=*');
      assert.match(await page.getByRole('status').innerText(), /^The sign-in was unlinked\./);
      assert.deepEqual(await server.auth.admin.federatedLinks.linksOf(id), []);
    });
  }
});
