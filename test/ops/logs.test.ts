/**
 * Structured logs: one JSON line per request with a request id, at the level from config, and
 * never a secret. The redaction test runs a full connector flow through both apps with logging at
 * `trace` (everything the code logs at any level), then searches every line for every secret the
 * flow handled.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import Koa from 'koa';
import { loadConfig } from '../../apps/shared/config/load-config.ts';
import { createHttpServer } from '../../apps/shared/http-server.ts';
import { createLogger, isoTimeAt } from '../../apps/shared/logger.ts';
import { observeRequests } from '../../apps/shared/observe-requests.ts';
import { Browser } from '../helpers/browser.ts';
import { CLAUDE_DCR_BODY, connect, redeem, refresh, registerClient, startAuthorization, signIn } from '../helpers/oauth-flow.ts';
import { rawBytes } from '../helpers/raw-http.ts';
import { ADMIN_PASSWORD, startAuthServer } from '../helpers/start-auth-server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectClient, mcpRequest } from '../helpers/mcp-http.ts';
import { REPO_ROOT } from './support/processes.ts';
import { startBothApps, type BothApps } from './support/start-both-apps.ts';

/** Every cookie value the browser holds for the auth-server, whatever path it is scoped to. */
function cookieValues(browser: Browser, issuer: string): string[] {
  const paths = ['/', '/interaction/x', '/interaction/x/login', '/oauth/authorize/x', '/oauth/callback', '/admin'];
  const values = paths.flatMap((path) => browser.cookieHeader(new URL(path, issuer)).split('; ').filter(Boolean).map((pair) => pair.slice(pair.indexOf('=') + 1)));
  return [...new Set(values)].filter((value) => value.length >= 8);
}

describe('logs during a full flow at trace level', () => {
  let apps: BothApps;
  const secrets = new Map<string, string>();
  const WRONG_PASSWORD = 'wrong-password-never-logged';

  before(async () => {
    apps = await startBothApps({ logLevel: 'trace' });
    const { issuer, mcpUrl } = apps;

    // A failed sign-in first: the password typed must not be logged either.
    const publicClient = await registerClient(issuer, CLAUDE_DCR_BODY);
    const attempt = await startAuthorization(issuer, { clientId: publicClient.client_id, scope: 'mcp:read', resource: mcpUrl });
    const refused = await signIn(attempt.browser, attempt.page, 'admin', WRONG_PASSWORD);
    assert.equal(refused.status, 400);
    secrets.set('wrong password', WRONG_PASSWORD);

    // The connector flow through the real forms: sign in, consent, code, token, refresh.
    const result = await connect(issuer, { clientId: publicClient.client_id, scope: 'mcp:read mcp:write', resource: mcpUrl, username: 'admin', password: ADMIN_PASSWORD, browser: attempt.browser });
    secrets.set('authorization code', result.code);
    secrets.set('code_verifier', result.verifier);
    secrets.set('admin password', ADMIN_PASSWORD);
    const tokens = await redeem(issuer, publicClient, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    secrets.set('access token', tokens.body.access_token as string);
    secrets.set('refresh token', tokens.body.refresh_token as string);
    const refreshed = await refresh(issuer, publicClient, tokens.body.refresh_token as string);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    secrets.set('refreshed access token', refreshed.body.access_token as string);
    secrets.set('rotated refresh token', refreshed.body.refresh_token as string);
    // Reusing the rotated one: the provider revokes the grant (and must not log the token).
    assert.equal((await refresh(issuer, publicClient, tokens.body.refresh_token as string)).status, 400);

    // A confidential client, authenticating with client_secret_post.
    const confidential = await registerClient(issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_post' });
    assert.ok(confidential.client_secret);
    secrets.set('client_secret', confidential.client_secret);
    const second = await connect(issuer, { clientId: confidential.client_id, scope: 'mcp:read mcp:write', resource: mcpUrl, username: 'admin', password: ADMIN_PASSWORD, browser: new Browser(issuer) });
    secrets.set('second authorization code', second.code);
    secrets.set('second code_verifier', second.verifier);
    const secretTokens = await redeem(issuer, confidential, second, { client_secret: confidential.client_secret });
    assert.equal(secretTokens.status, 200, JSON.stringify(secretTokens.body));
    secrets.set('second access token', secretTokens.body.access_token as string);
    for (const [i, value] of [...cookieValues(result.browser, issuer), ...cookieValues(second.browser, issuer)].entries()) secrets.set(`cookie value ${i}`, value);

    // MCP calls with the token, a forged token, and a token in the query string (never read).
    // The second grant's token: the reuse above revoked the first grant, and the resource server
    // refuses its tokens as soon as its next revocation-feed poll lands.
    const { client } = await connectClient(mcpUrl, secretTokens.body.access_token as string);
    await client.callTool({ name: 'whoami', arguments: {} });
    await client.callTool({ name: 'create_note', arguments: { title: 'Groceries', body: 'oat milk' } });
    await client.close();
    const access = refreshed.body.access_token as string;
    const forged = `${access.slice(0, -8)}AAAAAAAA`;
    secrets.set('forged token', forged);
    assert.equal((await mcpRequest(mcpUrl, { token: forged })).status, 401);
    assert.equal((await mcpRequest(`${mcpUrl}?access_token=${encodeURIComponent(access)}`)).status, 401);
  });
  after(() => apps.close());

  test('no token, code, code_verifier, client secret, password or cookie value appears in any line', () => {
    const text = apps.logText();
    assert.ok(secrets.size >= 14, `collected ${secrets.size} secrets`);
    for (const [what, value] of secrets) {
      assert.ok(!text.includes(value), `the ${what} appears in the logs`);
    }
  });

  test('the flow was logged: a line per request from both apps, and debug lines too', () => {
    const lines = apps.logLines;
    const requests = lines.filter((l) => l.msg === 'request');
    for (const app of ['auth-server', 'resource-server']) {
      assert.ok(requests.some((l) => l.app === app), `${app} logged requests`);
    }
    const token = requests.find((l) => l.path === '/oauth/token' && l.status === 200);
    assert.ok(token, 'the token request is logged');
    assert.equal(token.method, 'POST');
    assert.equal(typeof token.ms, 'number');
    assert.match(String(token.requestId), /^[0-9a-f-]{36}$/);
    assert.ok(requests.some((l) => l.path === '/mcp' && l.method === 'POST' && l.status === 200), 'MCP calls are logged');
    assert.ok(lines.some((l) => l.msg === 'access token refused' && l.level === 20), 'debug lines are written at trace level');
    for (const line of requests) assert.ok(!String(line.path).includes('?'), `a path with a query string: ${line.path}`);
    assert.ok(requests.some((l) => l.path === '/oauth/authorize'), 'authorization requests are logged by path only');
  });
});

describe('the request line', () => {
  test('carries exactly its fields, in order: id, method, path (no query), status, ms; stream and aborted only when so; an ISO 8601 UTC time', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger('auth-server', 'info', new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    }));
    const app = new Koa();
    app.use(observeRequests({ logger }));
    app.use(async (ctx) => {
      if (ctx.path === '/events') {
        ctx.type = 'text/event-stream';
        ctx.body = 'data: x\n\n';
      } else if (ctx.path === '/hang') {
        await new Promise((resolve) => ctx.res.once('close', resolve));
      } else {
        ctx.body = { ok: true };
      }
    });
    const http = createHttpServer(app.callback());
    const base = await http.listen(0, '127.0.0.1');
    try {
      await (await fetch(`${base}/oauth/token?code=abc`, { method: 'POST' })).text();
      await (await fetch(`${base}/events`)).text();
      await rawBytes(base, 'GET /hang HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', { hangUpAfterMs: 50 });
      await waitFor('three request lines', () => lines.length >= 3, 5000);
    } finally {
      await http.shutdown(1000);
    }
    const byPath = (path: string) => lines.find((line) => line.path === path)!;
    const common = ['level', 'time', 'app', 'name', 'requestId', 'method', 'path', 'status', 'ms'];
    assert.deepEqual(Object.keys(byPath('/oauth/token')), [...common, 'msg']);
    assert.deepEqual(Object.keys(byPath('/events')), [...common, 'stream', 'msg']);
    assert.deepEqual(Object.keys(byPath('/hang')), [...common, 'aborted', 'msg']);
    assert.deepEqual({ ...byPath('/oauth/token'), time: undefined, requestId: undefined, ms: undefined }, {
      level: 30, time: undefined, app: 'auth-server', name: 'auth-server', requestId: undefined, method: 'POST', path: '/oauth/token', status: 200, ms: undefined, msg: 'request',
    });
    assert.equal(byPath('/events').stream, true);
    assert.deepEqual([byPath('/hang').status, byPath('/hang').aborted], [0, true]);
    for (const line of lines) {
      assert.match(String(line.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(Math.abs(Date.parse(String(line.time)) - Date.now()) < 60_000, `a time of now: ${String(line.time)}`);
    }
  });

  test('its time is pino\'s isoTime, toISOString to the millisecond, whichever second it falls in', () => {
    const times = [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 59_999, 1_733_620_833_123, 1_733_620_833_999, 1_733_620_834_000, -1, -999, -1000, -62_198_755_200_000, 253_402_300_799_999, 253_402_300_800_000, 8.64e15];
    for (const at of [...times, ...times.reverse()]) assert.equal(isoTimeAt(at), `,"time":"${new Date(at).toISOString()}"`, String(at));
  });
});

describe('request ids', () => {
  let apps: BothApps;
  before(async () => {
    apps = await startBothApps();
  });
  after(() => apps.close());

  for (const app of ['auth-server', 'resource-server'] as const) {
    test(`${app}: keeps a sane incoming X-Request-Id, replaces any other, and logs it`, async () => {
      const base = app === 'auth-server' ? apps.issuer : apps.resourceBase;
      const id = `edge-7f3a.42:${app}_1`;
      const kept = await fetch(`${base}/no-such-page`, { headers: { 'x-request-id': id } });
      assert.equal(kept.headers.get('x-request-id'), id);
      for (const bad of ['has spaces in it', 'x'.repeat(129), '{"level":60}']) {
        const replaced = await fetch(`${base}/healthz`, { headers: { 'x-request-id': bad } });
        assert.match(replaced.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, `replaces ${bad}`);
      }
      const fresh = await fetch(`${base}/healthz`);
      assert.match(fresh.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, 'generated when absent');
      const line = await waitFor('the log line with the kept id', () => apps.logLines.find((l) => l.requestId === id), 5000);
      assert.equal(line.app, app);
      assert.equal(line.status, 404);
    });
  }
});

describe('log level from config', () => {
  for (const [level, expected] of [['info', 1], ['warn', 0]] as const) {
    test(`LOG_LEVEL=${level}: ${expected ? 'a' : 'no'} request line`, async () => {
      const lines: string[] = [];
      const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
      const config = loadConfig({ LOG_LEVEL: level });
      const app = new Koa();
      app.use(observeRequests({ logger: createLogger('auth-server', config.logLevel, sink) }));
      app.use((ctx) => { ctx.body = 'ok'; });
      const http = createHttpServer(app.callback());
      const base = await http.listen(0, '127.0.0.1');
      await (await fetch(`${base}/anything?secret=1`)).text();
      await http.shutdown(1000);
      assert.equal(lines.length, expected);
      if (expected) assert.equal(JSON.parse(lines[0]!).path, '/anything');
    });
  }
});

describe('the revocation feed, which every resource server polls', () => {
  test('answered, it logs at debug, as health probes do; refused, at info', async () => {
    const lines: Array<{ level: number; msg: string; path?: string; status?: number }> = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } });
    const server = await startAuthServer({ logger: createLogger('auth-server', 'debug', sink) });
    try {
      assert.equal((await fetch(`${server.issuer}/oauth/revocations?after=0`)).status, 200);
      assert.equal((await fetch(`${server.issuer}/oauth/revocations?after=x`)).status, 400);
      await waitFor('both request lines', () => lines.filter((l) => l.msg === 'request' && l.path === '/oauth/revocations').length === 2, 5000);
      const levels = lines.filter((l) => l.msg === 'request' && l.path === '/oauth/revocations').map((l) => [l.status, l.level]);
      // pino's levels: 20 debug, 30 info. At info (the default), a poll every 2 s from each resource server wrote 43,000 lines a day.
      assert.deepEqual(levels, [[200, 20], [400, 30]]);
    } finally {
      await server.close();
    }
  });
});

describe('clients that break the connection', () => {
  let apps: BothApps;
  before(async () => {
    apps = await startBothApps();
  });
  after(() => apps.close());

  test('a malformed chunked body and a client that hangs up mid-body leave one JSON line each at info, nothing at error, nothing on stderr', async () => {
    const logLines = () => apps.logText().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    const troubleLines = () => logLines().filter((line) => line.msg === 'request aborted by the client' || line.msg === 'client connection error');
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    // Koa's default error listener prints a multi-line stack there; collect whatever arrives.
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      stderr.push(String(chunk));
      return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write;
    try {
      const targets: Array<[string, string]> = [
        [apps.issuer, '/oauth/token'], [apps.issuer, '/oauth/register'], [apps.issuer, '/interaction/x/login'],
        [apps.resourceBase, '/mcp'],
      ];
      for (const [base, path] of targets) {
        const head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n`;
        await rawBytes(base, `${head}Transfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\nzz\r\nxyz\r\n0\r\n\r\n`);
        await rawBytes(base, `${head}Content-Length: 100\r\n\r\n{"a":`, { hangUpAfterMs: 50 });
      }
      // The servers log a broken connection when they notice it, after the client has gone.
      await waitFor('a line for each broken request', () => troubleLines().length >= targets.length * 2, 5000);
    } finally {
      process.stderr.write = write;
    }
    assert.deepEqual(stderr.filter((chunk) => !chunk.includes('oidc-provider WARNING')), [], 'nothing written to stderr');
    assert.deepEqual(logLines().filter((line) => Number(line.level) >= 50), [], 'no line at error level');
    const clientTrouble = troubleLines();
    assert.ok(clientTrouble.length >= 4, `client trouble is logged: ${JSON.stringify(clientTrouble)}`);
    for (const line of clientTrouble) {
      assert.equal(line.level, 30);
      assert.match(String(line.reason), /^(ECONNRESET|HPE_[A-Z_]+|aborted)$/);
    }
  });
});

describe('many loggers in one process', () => {
  test('writing to stdout, they add no exit listener each: no listener-leak warning on stderr', async () => {
    // Tests make a logger per server they start; each stdout logger writes what it holds at exit.
    const script = "import('./apps/shared/logger.ts').then(({ createLogger }) => { for (let i = 0; i < 20; i += 1) createLogger('app', 'info').info('hello'); });";
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', script], { cwd: REPO_ROOT });
    assert.equal(stderr, '');
    assert.equal(stdout.split('\n').filter((line) => line.includes('"msg":"hello"')).length, 20);
  });
});
