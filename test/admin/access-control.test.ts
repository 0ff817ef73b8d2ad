/**
 * Who reaches the admin and account pages, over HTTP, for every route in PAGE_ROUTES (the table
 * the router is built from, so a new route cannot skip these checks):
 * no session → sent to sign in (never a 200 with data); non-admin → 403 on /admin; disabled → 403;
 * every POST refuses a missing, foreign or wrong-purpose CSRF token and changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PAGE_ROUTES, type PageRoute } from '../../apps/auth-server/src/web/page-routes.ts';
import { safeReturnPath } from '../../apps/auth-server/src/web/page-session.ts';
import { Browser, type PageResult } from '../helpers/browser.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { createUser, csrfOf, signInAt } from './support/admin-browser.ts';

const READER_PASSWORD = 'reader password 123';

describe('admin pages: access control and CSRF', () => {
  let server: TestAuthServer;
  let readerId: string;
  let admin: { browser: Browser; page: PageResult };

  before(async () => {
    server = await startAuthServer();
    readerId = await createUser(server, 'reader', READER_PASSWORD, ['mcp:read']);
    admin = await signInAt(server, 'admin', ADMIN_PASSWORD);
  });
  after(async () => {
    await server?.close();
  });

  const pathOf = (route: PageRoute) => route.path.replace(':id', readerId);
  const routeName = (route: PageRoute) => `${route.method} ${route.path}`;

  function send(browser: Browser | undefined, route: PageRoute, fields: Record<string, string> = {}): Promise<Response> {
    const init: RequestInit = route.method === 'POST'
      ? { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body: new URLSearchParams(fields) }
      : { headers: { accept: 'text/html' } };
    return browser ? browser.request(pathOf(route), init) : fetch(new URL(pathOf(route), server.issuer), { ...init, redirect: 'manual' });
  }

  test('the route table covers both sections and every state change is a POST', () => {
    assert.ok(PAGE_ROUTES.filter((r) => r.method === 'POST').length >= 15);
    assert.ok(PAGE_ROUTES.some((r) => r.access === 'user'));
    for (const route of PAGE_ROUTES) {
      if (route.method === 'GET') assert.match(route.handler, /^(show|list)/, `${routeName(route)} only shows`);
    }
  });

  for (const route of PAGE_ROUTES) {
    test(`without a session, ${routeName(route)} sends the browser to sign in`, async () => {
      const response = await send(undefined, route);
      assert.equal(response.status, 303);
      const location = new URL(response.headers.get('location')!, server.issuer);
      assert.equal(location.pathname, '/oauth/authorize');
      assert.equal(location.searchParams.get('client_id'), 'gatehouse');
      assert.equal(location.searchParams.get('redirect_uri'), `${server.issuer}/admin/callback`);
      assert.equal(location.searchParams.get('code_challenge_method'), 'S256');
      assert.doesNotMatch(await response.text(), /reader|admin@|<table/);
    });
  }

  test('following that redirect ends on the real sign-in page, and after signing in on the page first asked for', async () => {
    const browser = new Browser(server.issuer);
    const start = await browser.navigate('/admin/users?q=read');
    assert.match(start.url, /\/interaction\//);
    assert.match(start.html, /name="password"/);
    assert.match(start.html, /to continue to <strong>Gatehouse<\/strong>/);
    const { page } = await signInAt(server, 'admin', ADMIN_PASSWORD, '/admin/users?q=read', new Browser(server.issuer));
    assert.equal(page.status, 200);
    assert.equal(new URL(page.url).pathname + new URL(page.url).search, '/admin/users?q=read');
    assert.doesNotMatch(page.html, /name="decision"/, 'no consent page for Gatehouse itself');
  });

  test('a callback without the sign-in cookie, or with a foreign state, returns to /admin only', async () => {
    const browser = admin.browser;
    for (const query of ['state=forged', 'state=x&code=nothing', '']) {
      const response = await browser.request(`/admin/callback?${query}`);
      assert.equal(response.status, 303);
      assert.equal(response.headers.get('location'), '/admin');
    }
  });

  test('return paths stay under /admin and /account on this server', () => {
    const cases: Array<[unknown, string | undefined]> = [
      ['/admin/users?q=x', '/admin/users?q=x'],
      ['/account', '/account'],
      ['/admin', '/admin'],
      ['//evil.example/admin', undefined],
      ['/\\evil.example', undefined],
      ['https://evil.example/admin', undefined],
      ['/administrator', undefined],
      ['/admin\\..', undefined],
      ['/oauth/authorize', undefined],
      [42, undefined],
    ];
    for (const [input, expected] of cases) assert.equal(safeReturnPath(input), expected, String(input));
  });

  test('a signed-in user without mcp:admin gets 403 on every admin route, and their own account page', async () => {
    const { browser, page } = await signInAt(server, 'reader', READER_PASSWORD, '/account');
    assert.equal(page.status, 200);
    assert.match(page.html, /Your connected apps/);
    assert.doesNotMatch(page.html, /href="\/admin\/users"/, 'no admin navigation for a non-admin');
    for (const route of PAGE_ROUTES.filter((r) => r.access === 'admin')) {
      const response = await send(browser, route);
      assert.equal(response.status, 403, routeName(route));
      assert.doesNotMatch(await response.text(), /<table/, routeName(route));
    }
  });

  test('/admin refused to a non-admin links their account page and offers Sign out, which signs them out', async () => {
    const { browser } = await signInAt(server, 'reader', READER_PASSWORD, '/account');
    const refused = await browser.navigate('/admin');
    assert.equal(refused.status, 403);
    assert.match(refused.html, /Only administrators can open the administration pages\./);
    assert.match(refused.html, /Your own connected apps are on <a href="\/account" id="account-link">your account page<\/a>\./);
    assert.ok(refused.html.includes('action="/account/sign-out"'), 'Sign out is offered');
    const out = await browser.submit('/account/sign-out', { csrf: csrfOf(refused, '/account/sign-out') }, refused.url);
    assert.equal(out.status, 200, out.html.slice(0, 300));
    assert.match(out.html, /<title>Signed out/);
    const after = await browser.request('/account', { redirect: 'manual' });
    assert.equal(after.status, 303, 'signed out: /account sends to sign in');
  });

  test('a disabled or pending user with a live session gets 403 everywhere', async () => {
    const id = await createUser(server, 'soon-disabled', READER_PASSWORD, ['mcp:read', 'mcp:admin']);
    const { browser } = await signInAt(server, 'soon-disabled', READER_PASSWORD, '/admin');
    for (const change of [{ disabled: true, pending: false }, { disabled: false, pending: true }]) {
      await server.auth.users.update(id, change);
      for (const route of PAGE_ROUTES) {
        assert.equal((await send(browser, route)).status, 403, `${JSON.stringify(change)} ${routeName(route)}`);
      }
    }
  });

  test('notices come from a fixed list: nothing from the URL is shown', async () => {
    const shown = await admin.browser.navigate('/admin/users?notice=user_created');
    assert.match(shown.html, /class="notice success" role="status">The user was created\.</);
    for (const code of ['constructor', '__proto__', 'toString', '<script>alert(1)</script>', 'Your account is hacked']) {
      const page = await admin.browser.navigate(`/admin/users?notice=${encodeURIComponent(code)}`);
      assert.doesNotMatch(page.html, /class="notice/, code);
    }
  });

  test('admin pages carry the sign-in pages\' security headers', async () => {
    const response = await admin.browser.request('/admin/users');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-security-policy')!, /default-src 'self'.*frame-ancestors 'none'/);
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
  });

  describe('CSRF on every POST route', () => {
    const auditCount = async () => (await server.auth.database.get<{ n: number }>("SELECT count(*) AS n FROM audit_events e JOIN audit_values v ON v.id = e.event_ref WHERE e.actor_id_ref IS NOT NULL AND v.value NOT LIKE 'sign_in.%'"))!.n;

    async function tokens() {
      const adminPage = await admin.browser.navigate('/admin/users');
      const accountPage = await admin.browser.navigate('/account');
      const other = await signInAt(server, 'admin', ADMIN_PASSWORD, '/admin/users');
      return {
        admin: csrfOf(adminPage, '/admin/users'),
        account: csrfOf(accountPage, '/account/sign-out'),
        otherBrowser: csrfOf(other.page, '/admin/users'),
      };
    }

    for (const route of PAGE_ROUTES.filter((r) => r.method === 'POST')) {
      test(`${routeName(route)} refuses a missing, foreign or wrong-purpose token and changes nothing`, async () => {
        const t = await tokens();
        const wrongPurpose = route.access === 'admin' ? t.account : t.admin;
        const before = await auditCount();
        const fields = { uri: 'https://csrf.example/cb', host: 'csrf.example', username: 'csrf-user', password: 'csrf password 1234', scope: 'mcp:read', client_id: 'x', grant_id: 'x', kid: 'x', client_name: 'x', redirect_uris: 'https://csrf.example/cb' };
        for (const [label, csrf] of [['missing', undefined], ['another browser\'s', t.otherBrowser], ['wrong purpose', wrongPurpose], ['garbage', 'A'.repeat(43)]] as const) {
          const response = await send(admin.browser, route, csrf === undefined ? fields : { ...fields, csrf });
          assert.equal(response.status, 403, `${label} token`);
          assert.match(await response.text(), /Error code: <code>invalid_request<\/code>/, `${label} token`);
        }
        assert.equal(await auditCount(), before, 'no change was made');
        assert.equal(await server.auth.users.findByUsername('csrf-user'), undefined);
        assert.equal((await admin.browser.request('/admin')).status, 200, 'still signed in');
      });
    }
  });
});
