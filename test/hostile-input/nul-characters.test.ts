/**
 * A NUL character (U+0000, `%00`) in a value that reaches the database (a client_id, a username,
 * an admin search or form field, a connection filter, a note) is the request's mistake: never a
 * 5xx or an error in the log (a 4xx, or a search that finds nothing). PostgreSQL text cannot hold
 * it and refuses the whole statement (22021), which both apps answered 500, at public endpoints
 * too (/oauth/token, /oauth/authorize, the sign-in form). Run on every backend.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../apps/shared/logger.ts';
import { csrfOf, signInAt } from '../admin/support/admin-browser.ts';
import { INITIALIZE } from '../helpers/mcp-http.ts';
import { CLAUDE_DCR_BODY, connect, redeem, registerClient, startAuthorization } from '../helpers/oauth-flow.ts';
import { rawRequest, type RawRequest } from '../helpers/raw-http.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { TEST_RESOURCE } from '../helpers/test-issuer.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** Log lines at error level or above, collected from a logger's output. */
function errorLines() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) if ((JSON.parse(line) as { level: number }).level >= 50) lines.push(line.slice(0, 300));
      done();
    },
  });
  return { stream, take: () => lines.splice(0) };
}

for (const backend of TEST_BACKENDS) {
  describe(`NUL characters in request values (${backend})`, () => {
    let auth: TestAuthServer;
    let resource: RunningResourceServer;
    const authErrors = errorLines();
    const resourceErrors = errorLines();
    let clientId: string;
    let accessToken: string;
    let sessionId: string;
    let adminCookie: string;
    let csrf: string;

    before(async () => {
      auth = await startAuthServer({ backend, logger: createLogger('auth-server', 'info', authErrors.stream) });
      resource = await startResourceServer({ issuer: auth.issuer, backend, logger: createLogger('resource-server', 'info', resourceErrors.stream) });
      const client = await registerClient(auth.issuer, CLAUDE_DCR_BODY);
      clientId = client.client_id;
      const result = await connect(auth.issuer, { clientId, scope: 'mcp:read mcp:write mcp:admin', resource: TEST_RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
      accessToken = (await redeem(auth.issuer, client, result)).body.access_token as string;
      const initialized = await fetch(resource.mcpUrl, {
        method: 'POST',
        headers: { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
        body: JSON.stringify(INITIALIZE),
      });
      await initialized.text();
      sessionId = initialized.headers.get('mcp-session-id')!;
      const admin = await signInAt(auth, 'admin', ADMIN_PASSWORD, '/admin/users');
      adminCookie = admin.browser.cookieHeader(new URL('/admin/users', auth.issuer));
      csrf = encodeURIComponent(csrfOf(admin.page, '/admin/users'));
    });
    after(async () => {
      await resource?.close();
      await auth?.close();
    });

    async function assertNoServerError(request: RawRequest, base = auth.issuer): Promise<void> {
      const response = await rawRequest(base, request);
      assert.ok(response.status > 0 && response.status < 500, `${request.method ?? 'GET'} ${request.path}: ${response.status} ${response.body.slice(0, 200)}`);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual([...authErrors.take(), ...resourceErrors.take()], [], `${request.path}: nothing logged at error`);
    }

    const publicRequests: Array<[string, () => RawRequest]> = [
      ['a token request whose client_id holds NUL', () => ({ method: 'POST', path: '/oauth/token', headers: FORM, body: 'client_id=a%00b&grant_type=refresh_token&refresh_token=x' })],
      ['an authorization request whose client_id holds NUL', () => ({ path: `/oauth/authorize?client_id=a%00b&response_type=code&redirect_uri=${encodeURIComponent('https://claude.ai/api/mcp/auth_callback')}` })],
    ];
    for (const [what, request] of publicRequests) {
      test(`${what}: no 5xx`, () => assertNoServerError(request()));
    }

    test('a sign-in whose username holds NUL: no 5xx', async () => {
      const pending = await startAuthorization(auth.issuer, { clientId, scope: 'mcp:read', resource: TEST_RESOURCE });
      const url = new URL(pending.page.url);
      const token = encodeURIComponent(/name="csrf" value="([^"]+)"/.exec(pending.page.html)![1]!);
      await assertNoServerError({ method: 'POST', path: `${url.pathname}/login`, headers: { ...FORM, cookie: pending.browser.cookieHeader(url) }, body: `csrf=${token}&username=a%00b&password=x` });
    });

    const adminRequests: Array<[string, string, string?]> = [
      ['GET', '/admin/users?q=a%00b'],
      ['GET', '/admin/users/a%00b'],
      ['GET', '/admin/audit?actor=a%00b'],
      ['GET', '/admin/grants?user=a%00b'],
      ['GET', '/admin/grants?client=a%00b'],
      ['GET', '/admin/connections?user=a%00b'],
      ['POST', '/admin/users/a%00b/disable', ''],
      ['POST', '/admin/grants/revoke', 'grant_id=a%00b'],
      ['POST', '/admin/redirect-uris/remove', 'uri=a%00b'],
      ['POST', '/admin/trusted-hosts/remove', 'host=a%00b'],
      ['POST', '/admin/service-accounts/disable', 'client_id=a%00b'],
    ];
    for (const [method, path, fields] of adminRequests) {
      test(`admin ${method} ${path}${fields ? ` ${fields}` : ''}: no 5xx`, () => assertNoServerError(method === 'GET'
        ? { path, headers: { cookie: adminCookie, accept: 'text/html' } }
        : { method, path, headers: { ...FORM, cookie: adminCookie, accept: 'text/html' }, body: `csrf=${csrf}${fields ? `&${fields}` : ''}` }));
    }

    test('the resource server\'s connection events filtered by an account id with NUL: no 5xx', () => assertNoServerError(
      { path: '/connections/events?account_id=a%00b', headers: { authorization: `Bearer ${accessToken}` } },
      resource.baseUrl,
    ));

    // SQLite stores it; PostgreSQL cannot, and the tool says so instead of "a problem on the server".
    test('create_note with NUL in its title: saved or refused with the reason, nothing logged at error', async () => {
      const response = await fetch(resource.mcpUrl, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
          'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-11-25',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'create_note', arguments: { title: 'a\u0000b' } } }),
      });
      const text = await response.text();
      assert.doesNotMatch(text, /problem on the server/);
      if (backend === 'postgres') assert.match(text, /NUL/);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(resourceErrors.take(), []);
    });
  });
}
