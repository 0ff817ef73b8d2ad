/**
 * Admin idle timeout and re-authentication for sensitive changes, over HTTP with the server's
 * injectable clock (time is moved, never slept):
 * - an old sign-in is sent through a fresh sign-in (prompt=login) before a sensitive POST runs,
 *   and nothing changes until then; a recent one is not asked again;
 * - admin access ends after the idle timeout although the browser session lives on;
 * - a browser that signed in long ago only to approve an app cannot create an admin without the
 *   password.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PAGE_ROUTES, type PageRoute } from '../../apps/auth-server/src/web/page-routes.ts';
import { Browser, inputValue, type PageResult } from '../helpers/browser.ts';
import { connect, registerClient, signIn } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { createUser, csrfOf, post, RESOURCE, signInAt } from './support/admin-browser.ts';

const MINUTE = 60_000;

describe('admin re-authentication and idle timeout', () => {
  let server: TestAuthServer;
  const clock = new TestClock();
  let targetId: string;
  const later = (ms: number) => clock.advance(ms / 1000);

  before(async () => {
    server = await startAuthServer({ clock });
    targetId = await createUser(server, 'target', 'target password 123', ['mcp:read']);
  });
  after(() => server.close());

  function postForm(browser: Browser, path: string, fields: Record<string, string>): Promise<Response> {
    return browser.request(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body: new URLSearchParams(fields) });
  }

  /** A 303 to the provider's sign-in with prompt=login, returning to `returnTo`. */
  function assertFreshSignIn(response: Response, what: string): void {
    assert.equal(response.status, 303, what);
    const location = new URL(response.headers.get('location')!, server.issuer);
    assert.equal(location.pathname, '/oauth/authorize', what);
    assert.equal(location.searchParams.get('client_id'), 'gatehouse', what);
    assert.equal(location.searchParams.get('prompt'), 'login', what);
  }

  const changes = async () => (await server.auth.database.get<{ n: number }>("SELECT count(*) AS n FROM audit_events e JOIN audit_values v ON v.id = e.event_ref WHERE v.value NOT LIKE 'sign_in.%'"))!.n;

  test('an old sign-in must sign in again before creating an admin; nothing is created before, and the page comes back', async () => {
    const { browser, page } = await signInAt(server, 'admin', ADMIN_PASSWORD, '/admin/users');
    later(6 * MINUTE);
    const fields = { csrf: csrfOf(page, '/admin/users'), username: 'second-admin', password: 'second admin password', scope: 'mcp:admin' };
    assertFreshSignIn(await postForm(browser, '/admin/users', fields), 'create admin');
    assert.equal(await server.auth.users.findByUsername('second-admin'), undefined, 'not created before the sign-in');

    const again = await post(browser, page, '/admin/users', { username: 'second-admin', password: 'second admin password', scope: 'mcp:admin' });
    assert.match(again.html, /name="password"/, 'the sign-in form, not a silent pass');
    assert.match(again.html, /This change needs a recent sign-in\./, 'the sign-in says why it is asked');
    assert.equal(inputValue(again.html, 'username'), 'admin', 'the signed-in account\'s name is filled in');
    const back = await signIn(browser, again, 'admin', ADMIN_PASSWORD);
    assert.equal(back.status, 200);
    assert.equal(new URL(back.url).pathname, '/admin/users');
    assert.match(back.html, /Nothing was changed yet: submit the form again\./);
    assert.equal(await server.auth.users.findByUsername('second-admin'), undefined, 'the form was not replayed');

    const created = await post(browser, back, '/admin/users', { username: 'second-admin', password: 'second admin password', scope: ['mcp:read', 'mcp:admin'] });
    assert.equal(created.status, 200);
    assert.ok((await server.auth.users.findByUsername('second-admin'))?.scopes.includes('mcp:admin'));
  });

  test('a sign-in younger than reauthenticate_after is not asked again', async () => {
    const { browser, page } = await signInAt(server, 'admin', ADMIN_PASSWORD, `/admin/users/${targetId}`);
    later(4 * MINUTE);
    const response = await postForm(browser, `/admin/users/${targetId}/scopes`, { csrf: csrfOf(page, `/admin/users/${targetId}/scopes`), shown_scopes: inputValue(page.html, 'shown_scopes')!, scope: 'mcp:write' });
    assert.equal(response.status, 303);
    assert.match(response.headers.get('location')!, /notice=scopes_changed/);
    assert.deepEqual((await server.auth.users.findById(targetId))!.scopes, ['mcp:write']);
  });

  const sensitive = PAGE_ROUTES.filter((r) => r.reauthenticate !== undefined);
  const pathOf = (route: PageRoute) => route.path.replace(':id', targetId);

  test('the sensitive routes are the changes that add access, credentials or trust', () => {
    assert.deepEqual(sensitive.map((r) => r.handler).sort(), [
      'addTrustedIdp', 'allowRedirectScheme', 'allowRedirectUri', 'approveUser', 'createServiceAccount', 'createStaticClient', 'createUser', 'enableServiceAccount', 'enableUser', 'linkUser', 'resetPassword',
      'retireKey', 'rotateKeys', 'setServiceAccountScopes', 'setUserScopes', 'trustHost',
    ]);
  });

  for (const route of sensitive) {
    test(`${route.method} ${route.path} with a sign-in older than reauthenticate_after: fresh sign-in first, nothing changed`, async () => {
      const { browser, page } = await signInAt(server, 'admin', ADMIN_PASSWORD, '/admin/users');
      later(10 * MINUTE);
      await browser.navigate('/admin/users');
      const before = await changes();
      const fields = {
        csrf: csrfOf(page, '/admin/users'), uri: 'https://stepup.example/cb', host: 'stepup.example', username: 'stepup-user',
        password: 'stepup password 1234', scope: 'mcp:admin', kid: 'x', client_name: 'x', redirect_uris: 'https://stepup.example/cb',
      };
      const response = await postForm(browser, pathOf(route), fields);
      assertFreshSignIn(response, route.path);
      assert.equal(await changes(), before, 'no change was made');
      const returnTo = await browser.navigate(response.headers.get('location')!);
      const back = await signIn(browser, returnTo, 'admin', ADMIN_PASSWORD);
      assert.equal(new URL(back.url).pathname, route.reauthenticate!.replace(':id', targetId), 'back on the form\'s page');
    });
  }

  test('a change that only takes access away needs no fresh sign-in', async () => {
    const { browser, page } = await signInAt(server, 'admin', ADMIN_PASSWORD, `/admin/users/${targetId}`);
    later(10 * MINUTE);
    const response = await postForm(browser, `/admin/users/${targetId}/disable`, { csrf: csrfOf(page, `/admin/users/${targetId}/disable`) });
    assert.equal(response.status, 303);
    assert.match(response.headers.get('location')!, /notice=user_disabled/);
    assert.equal((await server.auth.users.findById(targetId))!.disabled, true);
    await server.auth.users.update(targetId, { disabled: false });
  });

  test('admin access ends after the idle timeout, while the browser session (and /account) lives on', async () => {
    const { browser } = await signInAt(server, 'admin', ADMIN_PASSWORD, '/admin');
    later(10 * MINUTE);
    assert.equal((await browser.request('/admin')).status, 200, 'an admin request within the idle timeout');
    later(10 * MINUTE);
    assert.equal((await browser.request('/admin/users')).status, 200, 'idle counts from the last admin request, not the sign-in');
    later(16 * MINUTE);
    assertFreshSignIn(await browser.request('/admin/users?q=tar'), 'after 16 idle minutes');
    assert.equal((await browser.request('/account')).status, 200, 'the provider session is untouched');
    const page = await browser.navigate('/admin/users?q=tar');
    assert.match(page.html, /name="password"/);
    const back = await signIn(browser, page, 'admin', ADMIN_PASSWORD);
    assert.equal(new URL(back.url).pathname + new URL(back.url).search, '/admin/users?q=tar');
  });

  test('a browser signed in long ago to approve an app cannot create an admin without the password', async () => {
    const client = await registerClient(server.issuer);
    const browser = new Browser(server.issuer);
    await connect(server.issuer, { browser, clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    later(60 * MINUTE);
    const create = { username: 'sneaky-admin', password: 'sneaky admin password', scope: 'mcp:admin' };
    assertFreshSignIn(await postForm(browser, '/admin/users', create), 'POST without a recent sign-in');
    const page: PageResult = await browser.navigate('/admin/users');
    assert.match(page.html, /name="password"/, 'the admin page asks for the password first');
    assert.doesNotMatch(page.html, /action="\/admin\/users"/);
    assert.equal(await server.auth.users.findByUsername('sneaky-admin'), undefined);
  });
});
