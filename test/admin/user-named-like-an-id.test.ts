/**
 * The admin pages with a user named like another user's id (stored before such names were
 * refused; the row is written straight into the database). A page's own link names a user by id
 * and the page shows whose it is, so the other user's page and its buttons still reach that user;
 * a typed filter (`?user=`) with that text names neither and is refused, as the CLI refuses it
 * (test/cli/names-in-the-form-of-an-id.test.ts).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Browser, PageResult } from '../helpers/browser.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { post, signInAt } from './support/admin-browser.ts';

describe('admin pages with a user named like another user\'s id', () => {
  let server: TestAuthServer;
  let admin: { browser: Browser; page: PageResult };
  let victim: string;
  let impostor: string;

  before(async () => {
    server = await startAuthServer();
    admin = await signInAt(server, 'admin', ADMIN_PASSWORD, '/admin/users');
    victim = (await server.auth.users.create({ username: 'victim', passwordHash: null, scopes: ['mcp:read'] }))!.id;
    impostor = randomUUID();
    await server.auth.database.run(`INSERT INTO users (id, username, password_hash, scopes, disabled, pending, email, source, created_at, updated_at)
      VALUES (@id, @username, NULL, 'mcp:read', 0, 0, NULL, 'builtin', @now, @now)`, { id: impostor, username: victim, now: Date.now() });
  });
  after(async () => {
    await server?.close();
  });

  test('the users list links each user to their own page', async () => {
    const list = await admin.browser.navigate('/admin/users');
    const victimPage = await admin.browser.navigate(`/admin/users/${victim}`);
    assert.equal(victimPage.status, 200, victimPage.html.slice(0, 3000));
    assert.match(victimPage.html, /<h1>victim<\/h1>/);
    const impostorPage = await admin.browser.navigate(`/admin/users/${impostor}`);
    assert.equal(impostorPage.status, 200);
    assert.match(impostorPage.html, new RegExp(`<h1>${victim}</h1>`));
    assert.ok(list.html.includes(`href="/admin/users/${victim}"`) && list.html.includes(`href="/admin/users/${impostor}"`));
  });

  test('Disable on the victim\'s page disables the victim, not the user named like their id', async () => {
    const page = await admin.browser.navigate(`/admin/users/${victim}`);
    const done = await post(admin.browser, page, `/admin/users/${victim}/disable`);
    assert.equal(done.status, 200);
    assert.equal((await server.auth.users.findById(victim))?.disabled, true);
    assert.equal((await server.auth.users.findByUsername(victim))?.disabled, false);
  });

  for (const path of ['/admin/grants', '/admin/connections']) {
    test(`${path}?user= with that text is refused as naming neither user`, async () => {
      const page = await admin.browser.navigate(`${path}?user=${victim}`);
      assert.equal(page.status, 400);
      assert.ok(page.html.includes(`${victim} is both the id of the user victim and the username of another user (id ${impostor})`), page.html.slice(0, 2000));
    });
  }
});
