/**
 * PostgreSQL going away under running replicas (a restart, a failover, a database that stops
 * accepting connections): every endpoint that needs the database answers 503
 * `temporarily_unavailable` with `Retry-After: 5` on both apps, so a client knows to try again
 * and when, and nothing is logged as our failure with a stack; once the database is back, the same requests work without restarting anything.
 * It was 500 `server_error` ("oops! something went wrong") at /oauth/token and /oauth/register,
 * the error page at /oauth/authorize, and 500 at the MCP endpoint.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ALLOW_LIST_REFRESH_MS } from '../../apps/auth-server/src/management/allow-list-snapshot.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { INITIALIZE } from '../helpers/mcp-http.ts';
import { assertNoStackTrace, authorizeUrl, CLAUDE_DCR_BODY, connect, redeem, registerClient, startAuthorization, tokenRequest, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';
import { TEST_RESOURCE } from '../helpers/test-issuer.ts';
import { waitFor } from '../helpers/wait-for.ts';

/** Log lines at error level or above, collected from a logger's output, and the messages logged at warn. */
function errorLines() {
  const lines: string[] = [];
  const warnings: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        const { level, msg } = JSON.parse(line) as { level: number; msg: string };
        if (level >= 50) lines.push(line.slice(0, 300));
        else if (level === 40) warnings.push(msg);
      }
      done();
    },
  });
  return { stream, take: () => lines.splice(0), warnings };
}

interface Answer {
  status: number;
  contentType: string;
  retryAfter: string | null;
  body: string;
}

const answerOf = async (response: Response): Promise<Answer> => ({
  status: response.status, contentType: response.headers.get('content-type') ?? '', retryAfter: response.headers.get('retry-after'), body: await response.text(),
});

describe('PostgreSQL unavailable under running replicas', { skip: !TEST_BACKENDS.includes('postgres') && 'PostgreSQL is not among GATEHOUSE_TEST_BACKENDS' }, () => {
  let databaseUrl: string;
  let admin: pg.Client;
  let auth: TestAuthServer;
  let resource: RunningResourceServer;
  const errors = errorLines();
  let client: RegisteredClient;
  let refreshToken: string;
  let accessToken: string;
  let signIn: Awaited<ReturnType<typeof startAuthorization>>;

  const databaseName = () => new URL(databaseUrl).pathname.slice(1);
  /** What a restart does to the replicas: every connection ended, new ones refused until it is back. */
  async function takeDatabaseDown(): Promise<void> {
    await admin.query(`ALTER DATABASE "${databaseName()}" ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [databaseName()]);
  }
  const bringDatabaseBack = () => admin.query(`ALTER DATABASE "${databaseName()}" ALLOW_CONNECTIONS true`);

  before(async () => {
    databaseUrl = await createTestPostgresDatabase();
    const adminUrl = new URL(databaseUrl);
    adminUrl.pathname = '/postgres';
    admin = new pg.Client({ connectionString: adminUrl.toString() });
    await admin.connect();
    auth = await startAuthServer({ databaseUrl, logger: createLogger('auth-server', 'info', errors.stream) });
    resource = await startResourceServer({ issuer: auth.issuer, databaseUrl, logger: createLogger('resource-server', 'info', errors.stream) });
    client = await registerClient(auth.issuer, CLAUDE_DCR_BODY);
    const result = await connect(auth.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: TEST_RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    const tokens = (await redeem(auth.issuer, client, result)).body;
    refreshToken = tokens.refresh_token as string;
    accessToken = tokens.access_token as string;
    signIn = await startAuthorization(auth.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: TEST_RESOURCE });
  });
  after(async () => {
    await bringDatabaseBack().catch(() => {});
    await admin?.end();
    await resource?.close();
    await auth?.close();
  });

  const refresh = () => fetch(`${auth.issuer}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.client_id }),
  });
  const requests: Array<[string, () => Promise<Response>, { json: boolean }]> = [
    ['a refresh grant at /oauth/token', refresh, { json: true }],
    ['a registration at /oauth/register', () => fetch(`${auth.issuer}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CLAUDE_DCR_BODY) }), { json: true }],
    ['an authorization request at /oauth/authorize', () => fetch(authorizeUrl(auth.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: TEST_RESOURCE }, createPkce().challenge), { headers: { accept: 'text/html' }, redirect: 'manual' }), { json: false }],
    ['a sign-in form submitted', () => {
      const url = new URL(signIn.page.url);
      const csrf = /name="csrf" value="([^"]+)"/.exec(signIn.page.html)![1]!;
      return fetch(`${url.origin}${url.pathname}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: signIn.browser.cookieHeader(url), accept: 'text/html' },
        body: new URLSearchParams({ csrf, username: 'admin', password: ADMIN_PASSWORD }),
        redirect: 'manual',
      });
    }, { json: false }],
    ['an MCP initialize at the resource server', () => fetch(resource.mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(INITIALIZE),
    }), { json: true }],
  ];

  test('while it refuses connections: 503 temporarily_unavailable with Retry-After everywhere, no stack, nothing logged at error', async () => {
    await takeDatabaseDown();
    for (const [what, request, { json }] of requests) {
      const answer = await answerOf(await request());
      assert.equal(answer.status, 503, `${what}: ${answer.status} ${answer.body.replace(/<[^>]*>/g, "").replace(/\s+/g, " ").slice(0, 400)}`);
      assertNoStackTrace(answer.body, what);
      assert.equal(answer.retryAfter, '5', `${what}: Retry-After`);
      if (json) assert.equal((JSON.parse(answer.body) as { error: string }).error, 'temporarily_unavailable', what);
      else assert.match(answer.body, /briefly unavailable/, what);
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(errors.take(), []);
  });

  test('while it refuses connections: the background reloads that fail say so at warn, not as our error with a stack', async () => {
    // The allow-list snapshots reload every ALLOW_LIST_REFRESH_MS; one of those reloads fails during the outage.
    await waitFor('an allow-list reload failing during the outage', () => errors.warnings.some((msg) => msg.startsWith('reloading an allow-list failed')), ALLOW_LIST_REFRESH_MS + 5000);
    assert.deepEqual(errors.take(), []);
  });

  test('once it is back: the same refresh token, registration and MCP session work, without a restart', async () => {
    errors.take();
    await bringDatabaseBack();
    const refreshed = await tokenRequest(auth.issuer, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.client_id });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    await registerClient(auth.issuer, CLAUDE_DCR_BODY);
    const initialized = await fetch(resource.mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${refreshed.body.access_token as string}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(INITIALIZE),
    });
    await initialized.text();
    assert.equal(initialized.status, 200);
    assert.deepEqual(errors.take(), []);
  });
});
