/**
 * Seeded fuzzing of every endpoint of both apps with hostile requests: random and unknown
 * methods, hostile Host/Origin/Authorization/Cookie/forwarded headers, oversized headers, broken
 * framing (chunked, Content-Length mismatches), hostile query strings and bodies (wrong JSON types
 * at every DCR field, deep nesting, huge numbers, unicode, repeated form fields, JSON-RPC junk).
 *
 * Asserted for every request: no status >= 500 (bar /readyz's deliberate 503), no stack trace,
 * file path or `Error:` in the body; and, from both apps' own JSON logs (which also see requests
 * whose answer we never read), no response >= 500 and no line at error level. Both apps must
 * still answer afterwards. The seed is printed with every failure; replay with FUZZ_SEED=<seed>.
 * Some requests use a real client, interaction, access token, MCP session and signed-in admin
 * (cookie and CSRF token), to get past the first checks.
 */
import assert from 'node:assert/strict';
import type { Server, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../apps/shared/logger.ts';
import { assertNoStackTrace, connect, redeem, registerClient, startAuthorization, CLAUDE_DCR_BODY } from '../helpers/oauth-flow.ts';
import { rawBytes, rawRequest, type RawRequest, type RawResponse } from '../helpers/raw-http.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { csrfOf, signInAt } from '../admin/support/admin-browser.ts';
import { INITIALIZE } from '../helpers/mcp-http.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { TEST_RESOURCE } from '../helpers/test-issuer.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { brokenFraming, createRandom, DCR_FIELDS, hostileRequest, registrationWithOneBadField, type Known } from './support/hostile-inputs.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const AUTH_REQUESTS = 1500;
const RESOURCE_REQUESTS = 600;
const BROKEN_FRAMING = 80;
/** Kept low so the main server stays far below any per-IP registration limit. */
const REGISTRATIONS = 12;
const WORKERS = 4;

const AUTH_PATHS = [
  '/oauth/authorize', '/oauth/authorize/{uid}', '/oauth/token', '/oauth/jwks', '/oauth/revoke', '/oauth/introspect',
  '/oauth/userinfo', '/oauth/revocations', '/oauth/callback', '/oauth/callback/upstream', '/oauth/end_session', '/oauth/register/x', '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server', '/.well-known/oauth-authorization-server/oauth', '/.well-known/oauth-protected-resource',
  '/interaction/{uid}', '/interaction/{uid}/login', '/interaction/{uid}/consent', '/interaction/{uid}/federated/upstream',
  '/interaction/{uid}/abort', '/admin', '/admin/users', '/admin/users/1', '/admin/users/x/scopes', '/admin/clients',
  '/admin/clients/delete', '/admin/keys/rotate', '/admin/callback', '/admin/audit', '/admin/redirect-uris', '/account',
  '/account/sign-out', '/account/grants/revoke', '/healthz', '/readyz', '/static/gatehouse.css', '/admin/static/admin.css',
  '/', '/%', '/..%2f..%2fetc%2fpasswd', '//evil.example/x', '/oauth/token/../jwks', `/${'a'.repeat(3000)}`,
];
const RESOURCE_PATHS = [
  '/mcp', '/mcp', '/mcp', '/mcp/', '/MCP', '/mcp/x', '/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp',
  '/.well-known/oauth-authorization-server', '/healthz', '/readyz', '/gateway/servers', '/connections/events', '/connections/events?since=x&limit=0', '/', '/%', `/${'b'.repeat(3000)}`,
];

interface Failure { what: string; status: number; request: string; body: string }

function describeRequest(request: RawRequest): string {
  const body = request.body === undefined ? '' : ` body=${JSON.stringify(String(request.body).slice(0, 200))}`;
  return `${request.method} ${request.path.slice(0, 200)} headers=${JSON.stringify(Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k, String(v).slice(0, 80)])))}${body}`;
}

/** Checks one answer; a request that got no answer (status 0) is judged from the logs instead. */
function judge(response: RawResponse, request: RawRequest, failures: Failure[]): void {
  const readiness = /^\/readyz/i.test(request.path) && response.status === 503;
  if (response.status >= 500 && !readiness) failures.push({ what: 'status', status: response.status, request: describeRequest(request), body: response.body.slice(0, 300) });
  try {
    assertNoStackTrace(response.body, 'body');
    assert.doesNotMatch(response.body, /\b[A-Z][A-Za-z]*Error:|\bError: /);
  } catch {
    failures.push({ what: 'stack in body', status: response.status, request: describeRequest(request), body: response.body.slice(0, 600) });
  }
}

async function inParallel<T>(items: T[], run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: WORKERS }, async () => {
    while (next < items.length) await run(items[next++]!);
  }));
}

function capture(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  return {
    stream: new Writable({ write(chunk, _enc, done) { chunks.push(String(chunk)); done(); } }),
    lines: () => chunks.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** How many responses `server` has begun and not yet closed. */
function watchResponses(server: Server): { open: () => number } {
  let open = 0;
  server.on('request', (_req, res: ServerResponse) => {
    open += 1;
    res.once('close', () => open -= 1);
  });
  return { open: () => open };
}

/** Log lines that show a server-side failure: a 5xx answered, or anything logged at error. */
function failuresInLogs(lines: Array<Record<string, unknown>>): string[] {
  return lines
    .filter((line) => Number(line.level) >= 50 || (line.msg === 'request' && Number(line.status) >= 500 && !(line.path === '/readyz' && line.status === 503)))
    .map((line) => JSON.stringify(line).slice(0, 600));
}

function report(failures: Failure[], logFailures: string[]): string {
  return `seed ${SEED} (replay: FUZZ_SEED=${SEED}): ${failures.length} bad answers, ${logFailures.length} bad log lines\n`
    + failures.slice(0, 8).map((f) => `- ${f.what} ${f.status}: ${f.request}\n  ${f.body}`).join('\n')
    + `\n${logFailures.slice(0, 8).join('\n')}`;
}

describe(`fuzzing every endpoint with hostile requests (seed ${SEED})`, () => {
  let auth: TestAuthServer;
  let resource: RunningResourceServer;
  const authLog = capture();
  const resourceLog = capture();
  let authResponses: ReturnType<typeof watchResponses>;
  let resourceResponses: ReturnType<typeof watchResponses>;
  let known: Known;

  before(async () => {
    // The resource URL is the default one both sides agree on (tokens carry it as aud).
    auth = await startAuthServer({ logger: createLogger('auth-server', 'info', authLog.stream) });
    resource = await startResourceServer({ issuer: auth.issuer, logger: createLogger('resource-server', 'info', resourceLog.stream) });
    authResponses = watchResponses(auth.httpServer);
    resourceResponses = watchResponses(resource.httpServer);
    const client = await registerClient(auth.issuer, CLAUDE_DCR_BODY);
    const result = await connect(auth.issuer, { clientId: client.client_id, scope: 'mcp:read mcp:write', resource: TEST_RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    const tokens = await redeem(auth.issuer, client, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const pending = await startAuthorization(auth.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: TEST_RESOURCE });
    const interactionUrl = new URL(pending.page.url);
    const initialized = await fetch(resource.mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.body.access_token as string}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(INITIALIZE),
    });
    await initialized.body?.cancel();
    const admin = await signInAt(auth, 'admin', ADMIN_PASSWORD, '/admin/users');
    known = {
      clientId: client.client_id,
      interactionUid: interactionUrl.pathname.split('/')[2]!,
      interactionCookie: pending.browser.cookieHeader(interactionUrl),
      accessToken: tokens.body.access_token as string,
      mcpSessionId: initialized.headers.get('mcp-session-id') ?? 'none',
      adminCookie: admin.browser.cookieHeader(new URL('/admin/users', auth.issuer)),
      adminCsrf: csrfOf(admin.page, '/admin/users'),
    };
    assert.match(interactionUrl.pathname, /^\/interaction\/[^/]+$/);
  });
  after(async () => {
    await resource?.close();
    await auth?.close();
  });

  test('no request to either app gets a 5xx or a stack trace, and both still answer', async () => {
    const random = createRandom(SEED);
    const requests: Array<[string, RawRequest]> = [
      ...Array.from({ length: AUTH_REQUESTS }, () => [auth.issuer, hostileRequest(random, known, AUTH_PATHS)] as [string, RawRequest]),
      ...Array.from({ length: REGISTRATIONS }, () => [auth.issuer, hostileRequest(random, known, ['/oauth/register'], 'POST')] as [string, RawRequest]),
      ...Array.from({ length: RESOURCE_REQUESTS }, () => [resource.baseUrl, hostileRequest(random, known, RESOURCE_PATHS)] as [string, RawRequest]),
    ];
    const framing = Array.from({ length: BROKEN_FRAMING }, (_, i) => [i % 2 ? resource.baseUrl : auth.issuer, brokenFraming(random, i % 2 ? RESOURCE_PATHS : AUTH_PATHS)] as const);

    const failures: Failure[] = [];
    await inParallel(requests, async ([base, request]) => judge(await rawRequest(base, { ...request, timeoutMs: 5000 }), request, failures));
    await inParallel([...framing], async ([base, { bytes, hangUpAfterMs }]) => {
      const { status, text } = await rawBytes(base, bytes, { timeoutMs: 3000, hangUpAfterMs });
      if (status >= 500) failures.push({ what: 'status', status, request: JSON.stringify(bytes.slice(0, 200)), body: text.slice(0, 300) });
    });
    // A response logs its line as it closes (observe-requests.ts), which may be after its client is done.
    await waitFor('every response to close and log its line', () => authResponses.open() === 0 && resourceResponses.open() === 0);

    const logFailures = [...failuresInLogs(authLog.lines()), ...failuresInLogs(resourceLog.lines())];
    assert.ok(failures.length === 0 && logFailures.length === 0, report(failures, logFailures));
    for (const base of [auth.issuer, resource.baseUrl]) {
      assert.equal((await fetch(`${base}/healthz`)).status, 200, `${base} still answers (seed ${SEED})`);
    }
    assert.equal((await fetch(`${auth.issuer}/.well-known/oauth-authorization-server`)).status, 200);
  });
});

describe(`fuzzing every DCR metadata field with wrong JSON types (seed ${SEED})`, () => {
  // Its own server: the registration volume stays away from the main fuzz server's per-IP budget.
  let auth: TestAuthServer;
  const authLog = capture();
  before(async () => {
    auth = await startAuthServer({ logger: createLogger('auth-server', 'info', authLog.stream) });
  });
  after(() => auth?.close());

  test('every field, many wrong types: 201 or a 4xx with an RFC 7591 error, never a 5xx', async () => {
    const random = createRandom(SEED + 1);
    const known: Known = { clientId: 'x', interactionUid: 'x', interactionCookie: '', accessToken: 'x', mcpSessionId: 'x', adminCookie: '', adminCsrf: '' };
    const requests: RawRequest[] = DCR_FIELDS.flatMap((field) => Array.from({ length: 8 }, () => ({
      method: 'POST',
      path: '/oauth/register',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(registrationWithOneBadField(random, known, field)),
    })));
    const failures: Failure[] = [];
    await inParallel(requests, async (request) => {
      const response = await rawRequest(auth.issuer, request);
      judge(response, request, failures);
      if (response.status >= 400 && response.status < 500 && response.status !== 429) {
        const error = (JSON.parse(response.body) as { error?: string }).error;
        if (!['invalid_client_metadata', 'invalid_redirect_uri', 'invalid_request', 'invalid_software_statement'].includes(error ?? '')) {
          failures.push({ what: `error code ${error}`, status: response.status, request: describeRequest(request), body: response.body.slice(0, 300) });
        }
      }
    });
    const logFailures = failuresInLogs(authLog.lines());
    assert.ok(failures.length === 0 && logFailures.length === 0, report(failures, logFailures));
  });
});
