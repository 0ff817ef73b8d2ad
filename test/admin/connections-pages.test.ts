/**
 * The "Connections" admin pages and the "Failed connection attempts" of My apps (issue 18), over
 * HTTP: the list newest first with the explanation, its filters (and a bad filter answered 400 by
 * its field, never a 5xx), one attempt's timeline, 404 for an unknown attempt, the reader's
 * problem as a notice, the links from the client and user pages, and a user seeing only their
 * own failures.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ConnectionAttempt, ConnectionEvent } from '../../apps/shared/connection-events.ts';
import { Browser, type PageResult } from '../helpers/browser.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { createUser, signInAt } from './support/admin-browser.ts';
import { FixedConnectionLog } from './support/fixed-connection-log.ts';

const T0 = Date.parse('2026-12-01T14:00:00Z');
const CLAUDE = 'dcr-claude-client';
const CURSOR = 'dcr-cursor-client';

function event(at: number, fields: Partial<ConnectionEvent> & Pick<ConnectionEvent, 'step'>): ConnectionEvent {
  return { id: `e${at}-${fields.step}`, at, app: 'auth-server', outcome: 'ok', ...fields };
}

/** Text of the page without tags, whitespace folded: what a person reads. */
function text(page: PageResult): string {
  return page.html.replace(/<[^>]+>/g, ' ').replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/\s+/g, ' ');
}

/** The attempt ids the list links to, in page order. */
function listedIds(page: PageResult): string[] {
  return [...page.html.matchAll(/href="\/admin\/connections\/([^"?]+)"/g)].map((m) => decodeURIComponent(m[1]!));
}

describe('admin pages: connections', () => {
  let server: TestAuthServer;
  let log: FixedConnectionLog;
  let bobId: string;
  let carolId: string;
  let admin: Browser;

  before(async () => {
    log = new FixedConnectionLog([]);
    server = await startAuthServer({ connectionLog: log });
    bobId = await createUser(server, 'bob', 'bob password 1234', ['mcp:read']);
    carolId = await createUser(server, 'carol', 'carol password 1234', ['mcp:read']);
    const redirectUri = 'https://claude.ai/api/mcp/auth_callback';
    const replayed: ConnectionAttempt = {
      id: 'attempt-replayed', startedAt: T0, lastAt: T0 + 9000, clientId: CLAUDE, clientName: 'Claude <img src=x onerror=alert(1)>',
      accountId: bobId, username: 'bob', ip: '203.0.113.7', userAgent: 'Claude-User', outcome: 'failed', lastStep: 'code_exchange',
      explanation: { step: 'code_exchange', error: 'invalid_grant', reasonCode: 'code_replayed', reason: 'authorization code already used — the grant was revoked' },
      events: [
        event(T0, { step: 'authorization', clientId: CLAUDE, redirectUri, resource: 'http://localhost:4001/mcp', scope: 'mcp:read', ip: '203.0.113.7', userAgent: 'Claude-User' }),
        event(T0 + 3000, { step: 'sign_in', clientId: CLAUDE, accountId: bobId }),
        event(T0 + 5000, { step: 'consent', clientId: CLAUDE, accountId: bobId, scope: 'mcp:read' }),
        event(T0 + 5100, { step: 'redirect', clientId: CLAUDE, accountId: bobId, redirectUri }),
        event(T0 + 6000, { step: 'code_exchange', clientId: CLAUDE, accountId: bobId }),
        event(T0 + 9000, { step: 'code_exchange', outcome: 'refused', error: 'invalid_grant', reasonCode: 'code_replayed', reason: 'authorization code already used — the grant was revoked', clientId: CLAUDE }),
      ],
    };
    const wrongRedirect: ConnectionAttempt = {
      id: 'attempt-redirect', startedAt: T0 + 60_000, lastAt: T0 + 60_000, clientId: CURSOR, clientName: 'Cursor',
      accountId: carolId, username: 'carol', outcome: 'failed', lastStep: 'authorization',
      explanation: { step: 'authorization', error: 'invalid_redirect_uri', reasonCode: 'redirect_uri_not_allowed', reason: 'redirect_uri `https://evil.example/cb` is not one this client registered' },
      events: [event(T0 + 60_000, { step: 'authorization', outcome: 'refused', error: 'invalid_redirect_uri', reasonCode: 'redirect_uri_not_allowed', reason: 'redirect_uri `https://evil.example/cb` is not one this client registered', clientId: CURSOR, redirectUri: 'https://evil.example/cb' })],
    };
    const stalled: ConnectionAttempt = {
      id: 'attempt-stalled', startedAt: T0 + 120_000, lastAt: T0 + 120_000, outcome: 'stalled', lastStep: 'mcp_challenge', ip: '198.51.100.2',
      explanation: { step: 'mcp_challenge', reasonCode: 'stalled', reason: 'the client never fetched the authorization server metadata or registered — check it can reach the issuer' },
      events: [
        event(T0 + 120_000, { step: 'mcp_challenge', app: 'resource-server', ip: '198.51.100.2', userAgent: '<script>alert("ua")</script>' }),
        // A value a client chose, quoted in a reason: shown as code, escaped.
        event(T0 + 120_001, { step: 'resource_metadata', app: 'resource-server', outcome: 'refused', error: 'invalid_request', reasonCode: 'malformed', reason: 'path `<script>alert(1)</script>` is not `/mcp`' }),
      ],
    };
    const connected: ConnectionAttempt = {
      id: 'attempt-connected', startedAt: T0 + 180_000, lastAt: T0 + 190_000, clientId: CLAUDE, clientName: 'Claude <img src=x onerror=alert(1)>',
      accountId: bobId, username: 'bob', outcome: 'connected', lastStep: 'mcp_request',
      events: [event(T0 + 190_000, { step: 'mcp_request', app: 'resource-server', clientId: CLAUDE, accountId: bobId })],
    };
    log.attempts.push(replayed, wrongRedirect, stalled, connected);
    admin = (await signInAt(server, 'admin', ADMIN_PASSWORD)).browser;
  });
  after(async () => {
    await server?.close();
  });

  test('the list shows every attempt newest first: time, client name and id, user, outcome, last step, why', async () => {
    const page = await admin.navigate('/admin/connections');
    assert.equal(page.status, 200);
    assert.deepEqual(listedIds(page), ['attempt-connected', 'attempt-stalled', 'attempt-redirect', 'attempt-replayed']);
    const words = text(page);
    assert.match(words, /2026-12-01 14:00:00 UTC Claude <img src=x onerror=alert\(1\)> dcr-claude-client bob failed code exchanged for tokens authorization code already used — the grant was revoked invalid_grant/);
    assert.match(words, /redirect_uri https:\/\/evil\.example\/cb is not one this client registered/);
    assert.match(page.html, /redirect_uri <code>https:\/\/evil\.example\/cb<\/code> is not one/, 'the quoted value shown as code');
    assert.match(words, /not signed in stalled MCP request without a token, answered 401 \(sign-in needed\) the client never fetched the authorization server metadata/);
    assert.doesNotMatch(page.html, /<img src=x/, 'client names are escaped');
    assert.match(page.html, /<a href="\/admin\/connections" aria-current="page">Connections<\/a>/, 'in the navigation, current');
  });

  const filters: Array<{ query: string; ids: string[] }> = [
    { query: 'user=bob', ids: ['attempt-connected', 'attempt-replayed'] },
    { query: `client=${CURSOR}`, ids: ['attempt-redirect'] },
    { query: 'outcome=failed', ids: ['attempt-redirect', 'attempt-replayed'] },
    { query: 'outcome=stalled', ids: ['attempt-stalled'] },
    { query: `user=bob&client=${CLAUDE}&outcome=connected`, ids: ['attempt-connected'] },
    { query: 'user=carol&outcome=connected', ids: [] },
  ];
  for (const { query, ids } of filters) {
    test(`filtered by ${query}: only the matching attempts, the filter kept in the form`, async () => {
      const page = await admin.navigate(`/admin/connections?${query}`);
      assert.equal(page.status, 200);
      assert.deepEqual(listedIds(page), ids);
      if (ids.length === 0) assert.match(text(page), /No connection attempt matches/);
      const params = new URLSearchParams(query);
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
    for (const query of ['outcome=failed&outcome=connected', 'user[]=bob', 'client=%00', 'outcome=', 'user=%20bob%20']) {
      const page = await admin.navigate(`/admin/connections?${query}`);
      assert.ok(page.status === 200 || page.status === 400, `${query}: ${page.status}`);
    }
  });

  test('one attempt: the explanation on top, then every event of both apps in order with its details', async () => {
    const page = await admin.navigate('/admin/connections/attempt-replayed');
    assert.equal(page.status, 200);
    const words = text(page);
    assert.match(words, /failed · 2026-12-01 14:00:00 UTC to 2026-12-01 14:00:09 UTC/);
    assert.match(words, /Failed at: code exchanged for tokens authorization code already used — the grant was revoked Error sent to the client: invalid_grant · reason code_replayed/);
    assert.match(words, /From 203\.0\.113\.7 · Claude-User/);
    const steps = [...page.html.matchAll(/<tr(?: class="refused")?>\s*<td>[^<]+<\/td>\s*<td>([^<]+)<\/td>\s*<td>([^<]+)<\/td>/g)].map((m) => `${m[1]}: ${m[2]}`);
    assert.deepEqual(steps, [
      'auth server: authorization request', 'auth server: sign-in', 'auth server: consent', 'auth server: sent back to the client',
      'auth server: code exchanged for tokens', 'auth server: code exchanged for tokens',
    ]);
    assert.match(words, /redirect_uri https:\/\/claude\.ai\/api\/mcp\/auth_callback resource http:\/\/localhost:4001\/mcp scope mcp:read/);
    assert.match(page.html, /<tr class="refused">[\s\S]*refused<\/span> <code>invalid_grant<\/code>[\s\S]*authorization code already used/);
    assert.match(page.html, new RegExp(`href="/admin/users/${bobId}">bob</a>`));
    assert.match(page.html, new RegExp(`href="/admin/connections\\?client=${CLAUDE}">its attempts</a>`));
    assert.doesNotMatch(page.html, /<img src=x/);
  });

  test('an attempt by nobody signed in says so; its resource-server step is named as the MCP server\'s', async () => {
    const words = text(await admin.navigate('/admin/connections/attempt-stalled'));
    assert.match(words, /Stopped after: MCP request without a token, answered 401/);
    assert.match(words, /User nobody signed in/);
    assert.match(words, /MCP server MCP request without a token/);
    const page = await admin.navigate('/admin/connections/attempt-stalled');
    assert.doesNotMatch(page.html, /<script>/, 'reasons and user agents are escaped');
    assert.match(page.html, /path <code>&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/code> is not <code>\/mcp<\/code>/);
  });

  test('an unknown or absurd attempt id is a 404 page', async () => {
    for (const id of ['no-such-attempt', 'x'.repeat(500), '%3Cscript%3E']) {
      const page = await admin.navigate(`/admin/connections/${id}`);
      assert.equal(page.status, 404, id);
      assert.match(page.html, /There is no such connection attempt/);
      assert.doesNotMatch(page.html, /<script>/);
    }
  });

  test('when the resource server\'s events cannot be read, the pages say so and still show this server\'s', async () => {
    log.problem = 'the resource server did not answer (connect ECONNREFUSED 127.0.0.1:4001)';
    try {
      for (const path of ['/admin/connections', '/admin/connections/attempt-replayed']) {
        const page = await admin.navigate(path);
        assert.equal(page.status, 200);
        assert.match(text(page), /The MCP server's steps are missing: the resource server did not answer \(connect ECONNREFUSED 127\.0\.0\.1:4001\)/);
        assert.match(page.html, /class="warning" role="alert"/);
      }
    } finally {
      delete log.problem;
    }
  });

  test('the client list and a user\'s page link to their filtered attempts', async () => {
    await server.auth.admin.clients.createStatic({ name: 'Reports', authMethod: 'client_secret_basic', clientId: 'reports', redirectUris: ['https://reports.example.com/cb'] }, { actor: { name: 'admin' } });
    const clients = await admin.navigate('/admin/clients');
    assert.match(clients.html, /href="\/admin\/connections\?client=reports" aria-label="Connection attempts of Reports">connection attempts<\/a>/);
    const user = await admin.navigate(`/admin/users/${bobId}`);
    assert.match(user.html, /href="\/admin\/connections\?user=bob">Connection attempts<\/a>/);
    assert.deepEqual(listedIds(await admin.navigate('/admin/connections?user=bob')), ['attempt-connected', 'attempt-replayed']);
  });

  test('a user who is not an admin gets 403 on both pages', async () => {
    const { browser } = await signInAt(server, 'carol', 'carol password 1234', '/account');
    for (const path of ['/admin/connections', '/admin/connections/attempt-redirect']) {
      const response = await browser.request(path, { headers: { accept: 'text/html' } });
      assert.equal(response.status, 403, path);
      assert.doesNotMatch(await response.text(), /evil\.example/);
    }
  });

  test('My apps lists the user\'s own failed attempts in plain words, and nothing of another user\'s', async () => {
    const bob = await signInAt(server, 'bob', 'bob password 1234', '/account');
    const bobWords = text(bob.page);
    assert.match(bobWords, /Failed connection attempts/);
    assert.match(bobWords, /Claude <img src=x onerror=alert\(1\)> 2026-12-01 14:00 UTC Failed at code exchanged for tokens: authorization code already used — the grant was revoked/);
    assert.doesNotMatch(bobWords, /evil\.example|Cursor/, 'carol\'s failure is not on bob\'s page');
    assert.doesNotMatch(bob.page.html, /<img src=x/);
    assert.ok(log.asked.some((f) => f.accountId === bobId), 'asked for bob\'s attempts by account id');

    const carol = await signInAt(server, 'carol', 'carol password 1234', '/account');
    const carolWords = text(carol.page);
    assert.match(carolWords, /Cursor 2026-12-01 14:01 UTC Failed at authorization request: redirect_uri https:\/\/evil\.example\/cb is not one this client registered/);
    assert.doesNotMatch(carolWords, /already used|Claude/);
  });
});
