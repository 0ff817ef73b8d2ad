/**
 * The "Connections" admin pages and the "Failed connection attempts" of My apps (issue 18), over
 * HTTP, after real connections through the server, read back through its own connection log: a
 * replayed code (bob), a denied consent (carol), a redirect_uri the client never registered (sent
 * with a hostile User-Agent), and bob leaving a consent page unanswered. Shown: the list newest
 * first with the explanation, its filters (and a bad filter answered 400 by its field, never a
 * 5xx), one attempt's timeline, 404 for an unknown attempt, the resource server being unreachable
 * as a notice, the links from the client and user pages, and a user seeing only their own
 * failures. The requests are claude.ai's (test/helpers/oauth-flow.ts: its DCR body, authorization
 * URL and callback; the MCP SDK's form-encoded token requests).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser, type PageResult } from '../helpers/browser.ts';
import { freePort } from '../helpers/net.ts';
import { authorizeUrl, signIn, startAuthorization } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { createUser, signInAt } from './support/admin-browser.ts';
import { denyConsent, registerAs, replayCode } from './support/failing-connections.ts';

const REDIRECT = 'https://claude.ai/api/mcp/auth_callback';

/** Text of the page without tags, whitespace folded: what a person reads. */
function text(page: PageResult): string {
  return page.html.replace(/<[^>]+>/g, ' ').replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/\s+/g, ' ');
}

/** The attempt ids the list links to, in page order. */
function listedIds(page: PageResult): string[] {
  return [...page.html.matchAll(/href="\/admin\/connections\/([^"?]+)"/g)].map((m) => decodeURIComponent(m[1]!));
}

for (const backend of TEST_BACKENDS) describe(`admin pages: connections (${backend})`, () => {
  let server: TestAuthServer;
  const clock = TestClock.ahead(0);
  let eventsUri: string;
  let bobId: string;
  let carolId: string;
  let admin: Browser;
  /** Attempt ids by what happened in them. */
  const ids: Record<'replayed' | 'denied' | 'wrongRedirect' | 'pending', string> = { replayed: '', denied: '', wrongRedirect: '', pending: '' };
  let claude: string;
  let cursor: string;
  let stranger: string;

  /** The one attempt of `clientId` this test drove (registration included), once the clock moved on. */
  async function attemptOf(clientId: string, accountId?: string): Promise<string> {
    clock.advance(60);
    const { attempts } = await server.auth.connections.list({ clientId, accountId });
    assert.equal(attempts.length, 1, JSON.stringify(attempts));
    return attempts[0]!.id;
  }

  before(async () => {
    // Nothing listens there: the resource server's events are unavailable, a notice on the pages.
    eventsUri = `http://127.0.0.1:${await freePort()}/connections/events`;
    server = await startAuthServer({ backend, clock, env: { CONNECTION_EVENTS_URI: eventsUri } });
    bobId = await createUser(server, 'bob', 'bob password 1234', ['mcp:read']);
    carolId = await createUser(server, 'carol', 'carol password 1234', ['mcp:read']);
    const resource = server.config.authServer.resource;

    const claudeClient = await registerAs(server, 'Claude <img src=x onerror=alert(1)>');
    claude = claudeClient.client_id;
    await replayCode(server, claudeClient, 'bob', 'bob password 1234');
    ids.replayed = await attemptOf(claude);

    const cursorClient = await registerAs(server, 'Cursor');
    cursor = cursorClient.client_id;
    await denyConsent(server, cursorClient, 'carol', 'carol password 1234');
    ids.denied = await attemptOf(cursor, carolId);

    stranger = (await registerAs(server, 'Stranger')).client_id;
    // A hostile User-Agent, kept (trimmed) with the refusal: the pages must escape it.
    const wrong = authorizeUrl(server.issuer, { clientId: stranger, scope: 'mcp:read', resource, redirectUri: 'https://evil.example/cb' }, createPkce().challenge);
    assert.equal((await fetch(wrong, { headers: { 'user-agent': '<script>alert("ua")</script>' }, redirect: 'manual' })).status, 400);
    ids.wrongRedirect = await attemptOf(stranger);

    // bob signs in for Cursor and leaves the consent page unanswered.
    const { page, browser } = await startAuthorization(server.issuer, { clientId: cursor, scope: 'mcp:read', resource });
    await signIn(browser, page, 'bob', 'bob password 1234');
    ids.pending = await attemptOf(cursor, bobId);

    admin = (await signInAt(server, 'admin', ADMIN_PASSWORD)).browser;
  });
  after(async () => {
    await server?.close();
  });

  test('Gatehouse\'s own sign-ins (the admin\'s, through the first-party client) are not connection attempts', async () => {
    const page = await admin.navigate('/admin/connections');
    assert.deepEqual(listedIds(page), [ids.pending, ids.wrongRedirect, ids.denied, ids.replayed]);
    const { attempts } = await server.auth.connections.list({ clientId: 'gatehouse' });
    assert.deepEqual(attempts, []);
  });

  /** Only the attempts this test recorded, in page order. */
  const ours = (page: PageResult) => listedIds(page).filter((id) => Object.values(ids).includes(id));

  test('the list shows every attempt newest first: time, client name and id, user, outcome, last step, why', async () => {
    const page = await admin.navigate('/admin/connections');
    assert.equal(page.status, 200);
    assert.deepEqual(ours(page), [ids.pending, ids.wrongRedirect, ids.denied, ids.replayed]);
    const words = text(page);
    assert.match(words, new RegExp(`UTC Claude <img src=x onerror=alert\\(1\\)> ${claude} bob failed code exchanged for tokens authorization code already used — the grant was revoked invalid_grant`));
    assert.match(words, new RegExp(`UTC Cursor ${cursor} carol failed (consent|sent back to the client) the user denied access access_denied`));
    assert.match(words, new RegExp(`UTC Stranger ${stranger} not signed in failed authorization request redirect_uri https://evil\\.example/cb is not one this client registered`));
    assert.match(words, new RegExp(`UTC Cursor ${cursor} bob in progress sign-in`));
    assert.match(page.html, /redirect_uri <code>https:\/\/evil\.example\/cb<\/code> is not one/, 'the quoted value shown as code');
    assert.doesNotMatch(page.html, /<img src=x|<script>/, 'client names and reasons are escaped');
    assert.match(page.html, /<a href="\/admin\/connections" aria-current="page">Connections<\/a>/, 'in the navigation, current');
  });

  const filters: Array<{ query: () => string; expected: () => string[] }> = [
    { query: () => 'user=bob', expected: () => [ids.pending, ids.replayed] },
    { query: () => `client=${cursor}`, expected: () => [ids.pending, ids.denied] },
    { query: () => 'outcome=failed', expected: () => [ids.wrongRedirect, ids.denied, ids.replayed] },
    { query: () => 'outcome=in_progress&user=bob', expected: () => [ids.pending] },
    { query: () => `user=bob&client=${claude}&outcome=failed`, expected: () => [ids.replayed] },
    { query: () => 'user=carol&outcome=connected', expected: () => [] },
  ];
  for (const [index, { query, expected }] of filters.entries()) {
    test(`filter ${index + 1}: only the matching attempts, the filter kept in the form`, async () => {
      const page = await admin.navigate(`/admin/connections?${query()}`);
      assert.equal(page.status, 200);
      assert.deepEqual(ours(page), expected(), query());
      if (expected().length === 0) assert.match(text(page), /No connection attempt matches/);
      const params = new URLSearchParams(query());
      if (params.has('user')) assert.match(page.html, new RegExp(`name="user" type="text" value="${params.get('user')}"`));
      if (params.has('outcome')) assert.match(page.html, new RegExp(`<option value="${params.get('outcome')}" selected>`));
    });
  }

  const badFilters: Array<{ query: string; field: string; message: RegExp }> = [
    { query: 'outcome=broken', field: 'outcome', message: /Outcome must be one of connected, failed, stalled, in_progress, not &quot;broken&quot;/ },
    { query: 'outcome=%3Cscript%3E', field: 'outcome', message: /not &quot;&lt;script&gt;&quot;/ },
    { query: 'user=nobody', field: 'user', message: /There is no user nobody\./ },
    { query: `user=${'u'.repeat(300)}`, field: 'user', message: /A username has at most 256 characters/ },
    { query: `client=${'c'.repeat(2049)}`, field: 'client', message: /A client id has at most 2048 characters/ },
  ];
  for (const { query, field, message } of badFilters) {
    test(`a bad filter (${query.slice(0, 40)}) is a 400 page with the message by the ${field} field`, async () => {
      const page = await admin.navigate(`/admin/connections?${query}`);
      assert.equal(page.status, 400);
      assert.match(page.html, new RegExp(`<p class="field-error" id="listConnections-${field}-error">[^<]*${message.source}`));
      assert.match(page.html, new RegExp(`name="${field}"[^>]* aria-invalid="true" aria-describedby="listConnections-${field}-error"`));
      assert.deepEqual(listedIds(page), [], 'no attempts under a refused filter');
    });
  }

  test('repeated or odd query values never reach a 5xx', async () => {
    for (const query of ['outcome=failed&outcome=connected', 'user[]=bob', 'client=%00', 'outcome=', 'user=%20bob%20', 'client=%F0%9F%92%A9']) {
      const page = await admin.navigate(`/admin/connections?${query}`);
      assert.ok(page.status === 200 || page.status === 400, `${query}: ${page.status}`);
    }
  });

  test('one attempt: the explanation on top, then every event in order with its details', async () => {
    const page = await admin.navigate(`/admin/connections/${encodeURIComponent(ids.replayed)}`);
    assert.equal(page.status, 200);
    const words = text(page);
    assert.match(words, /failed · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC( to \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)? Failed at/);
    assert.match(words, /Failed at: code exchanged for tokens authorization code already used — the grant was revoked Error sent to the client: invalid_grant · reason code_replayed/);
    assert.match(words, /From 127\.0\.0\.1 · node/);
    const steps = [...page.html.matchAll(/<tr(?: class="refused")?>\s*<td>[^<]+<\/td>\s*<td>([^<]+)<\/td>\s*<td>([^<]+)<\/td>/g)].map((m) => `${m[1]}: ${m[2]}`);
    assert.deepEqual(steps, [
      'auth server: client registration (DCR)', 'auth server: authorization request', 'auth server: sign-in', 'auth server: consent', 'auth server: sent back to the client',
      'auth server: code exchanged for tokens', 'auth server: code exchanged for tokens',
    ]);
    assert.match(words, new RegExp(`redirect_uri ${REDIRECT} resource ${server.config.authServer.resource} scope mcp:read`));
    assert.match(page.html, /<tr class="refused">[\s\S]*refused<\/span> <code>invalid_grant<\/code>[\s\S]*authorization code already used/);
    assert.match(page.html, new RegExp(`href="/admin/users/${bobId}">bob</a>`));
    assert.match(page.html, new RegExp(`href="/admin/connections\\?client=${claude}">its attempts</a>`));
    assert.doesNotMatch(page.html, /<img src=x/);
  });

  test('an attempt before anyone signed in says so; what the client sent is escaped', async () => {
    const page = await admin.navigate(`/admin/connections/${encodeURIComponent(ids.wrongRedirect)}`);
    const words = text(page);
    assert.match(words, /Failed at: authorization request redirect_uri https:\/\/evil\.example\/cb is not one this client registered/);
    assert.match(words, /User nobody signed in/);
    assert.doesNotMatch(page.html, /<script>/, 'reasons and user agents are escaped');
    assert.match(page.html, /from <code>127\.0\.0\.1<\/code> · &lt;script&gt;alert\(&quot;ua&quot;\)&lt;\/script&gt;/, 'the User-Agent it sent, escaped');
  });

  test('an unknown or absurd attempt id is a 404 page', async () => {
    for (const id of ['no-such-attempt', 'x'.repeat(500), '%3Cscript%3E']) {
      const page = await admin.navigate(`/admin/connections/${id}`);
      assert.equal(page.status, 404, id);
      assert.match(page.html, /There is no such connection attempt/);
      assert.doesNotMatch(page.html, /<script>/);
    }
  });

  test('the resource server\'s events being unreachable is a notice on both pages, this server\'s steps still shown', async () => {
    for (const path of ['/admin/connections', `/admin/connections/${encodeURIComponent(ids.replayed)}`]) {
      const page = await admin.navigate(path);
      assert.equal(page.status, 200);
      assert.match(text(page), new RegExp(`The MCP server's steps are missing: .*${eventsUri.replaceAll('.', '\\.')}`));
      assert.match(page.html, /class="warning problem" role="alert"/);
      assert.match(text(page), /authorization code already used/);
    }
  });

  test('the client list and a user\'s page link to their filtered attempts', async () => {
    const clients = await admin.navigate('/admin/clients');
    assert.match(clients.html, new RegExp(`href="/admin/connections\\?client=${cursor}" aria-label="Connection attempts of Cursor">connection attempts</a>`));
    const user = await admin.navigate(`/admin/users/${bobId}`);
    assert.match(user.html, new RegExp(`href="/admin/connections\\?user=${bobId}">Connection attempts</a>`));
  });

  test('a user who is not an admin gets 403 on both pages', async () => {
    const { browser } = await signInAt(server, 'carol', 'carol password 1234', '/account');
    for (const path of ['/admin/connections', `/admin/connections/${encodeURIComponent(ids.replayed)}`]) {
      const response = await browser.request(path, { headers: { accept: 'text/html' } });
      assert.equal(response.status, 403, path);
      assert.doesNotMatch(await response.text(), /already used|evil\.example/);
    }
  });

  test('My apps lists the user\'s own failed attempts in plain words, and nothing of another user\'s', async () => {
    const bob = await signInAt(server, 'bob', 'bob password 1234', '/account');
    const bobWords = text(bob.page);
    assert.match(bobWords, /Failed connection attempts/);
    assert.match(bobWords, /Claude <img src=x onerror=alert\(1\)> \d{4}-\d\d-\d\d \d\d:\d\d UTC Failed at code exchanged for tokens: authorization code already used — the grant was revoked/);
    assert.doesNotMatch(bobWords, /denied|evil\.example|Stranger/, 'carol\'s failure, and one before anyone signed in, are not on bob\'s page');
    assert.doesNotMatch(bobWords, /Cursor/, 'bob\'s attempt in progress is not a failure');
    assert.doesNotMatch(bob.page.html, /<img src=x/);

    const carol = await signInAt(server, 'carol', 'carol password 1234', '/account');
    const carolWords = text(carol.page);
    assert.match(carolWords, /Cursor \d{4}-\d\d-\d\d \d\d:\d\d UTC Failed at (consent|sent back to the client): the user denied access/);
    assert.doesNotMatch(carolWords, /already used|Claude|evil\.example/);
    assert.match(carolWords, /The MCP server's side could not be read just now/);
  });
});
