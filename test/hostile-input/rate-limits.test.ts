/**
 * Issue 11, point 5: anonymous registration and the other unauthenticated POSTs are rate limited
 * per client IP (token buckets in SQLite), registrations pending first use are capped server-wide,
 * and past a limit the answer is 429 with Retry-After. Time is moved by an injected clock.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../apps/shared/config/load-config.ts';
import { createMetricsRegistry } from '../../apps/shared/metrics.ts';
import { assertNoStackTrace, authorizeUrl, CLAUDE_DCR_BODY, connect, redeem, register, registerClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { TestClock } from '../helpers/test-clock.ts';

const RESOURCE = 'http://localhost:4001/mcp';

function from(ip: string): Record<string, string> {
  return { 'x-forwarded-for': ip };
}

async function registerFrom(server: TestAuthServer, ip: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await register(server.issuer, CLAUDE_DCR_BODY, { ...from(ip), ...headers });
  const text = await response.text();
  assertNoStackTrace(text, 'registration');
  return { status: response.status, body: JSON.parse(text) as Record<string, unknown>, headers: response.headers };
}

function assertLimited(result: { status: number; body: Record<string, unknown>; headers: Headers }, retryAfter?: number): void {
  assert.equal(result.status, 429, JSON.stringify(result.body));
  assert.equal(result.body.error, 'temporarily_unavailable');
  assert.equal(typeof result.body.error_description, 'string');
  assert.equal(result.body.client_id, undefined);
  assert.match(result.headers.get('content-type') ?? '', /^application\/json/);
  const header = result.headers.get('retry-after');
  assert.match(header ?? '', /^[1-9]\d*$/, `Retry-After: ${header}`);
  if (retryAfter !== undefined) assert.equal(Number(header), retryAfter);
}

describe('defaults', () => {
  test('20 registrations at once per IP, refilled over 10 minutes; generous limits elsewhere; 10000 pending registrations', () => {
    const config = loadConfig({}, '/tmp').authServer;
    assert.equal(config.rateLimits.enabled, true);
    assert.deepEqual(config.rateLimits.registration, { max: 20, window: 600 });
    assert.deepEqual(config.rateLimits.token, { max: 600, window: 60 });
    assert.deepEqual(config.rateLimits.signIn, { max: 120, window: 60 });
    assert.equal(config.registration.maxPendingClients, 10_000);
  });

  const badValues: Array<[string, string, RegExp]> = [
    ['a zero limit', 'auth_server: { rate_limits: { registration: { max: 0 } } }', /auth_server\.rate_limits\.registration\.max/],
    ['a window that is not a duration', 'auth_server: { rate_limits: { token: { window: soon } } }', /auth_server\.rate_limits\.token\.window/],
    ['an unknown limit', 'auth_server: { rate_limits: { authorize: { max: 5 } } }', /auth_server\.rate_limits: unknown field/],
    ['a scheme name with a space', 'auth_server: { registration: { allowed_schemes: ["my app"] } }', /auth_server\.registration\.allowed_schemes\.0/],
  ];
  for (const [name, yaml, message] of badValues) {
    test(`the config refuses ${name}, naming the field`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-limits-'));
      try {
        writeFileSync(join(dir, 'config.yml'), yaml);
        assert.throws(() => loadConfig({ GATEHOUSE_CONFIG: join(dir, 'config.yml') }, dir), message);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('registration rate limit per client IP', () => {
  const clock = new TestClock();
  const registry = createMetricsRegistry('auth-server');
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer({
      clock,
      registry,
      configure: (c) => {
        c.authServer.trustProxy = true;
        c.authServer.rateLimits = loadConfig({}, '/tmp').authServer.rateLimits;
      },
    });
  });
  after(() => server.close());

  test('refuses the 21st registration from one IP with 429 and Retry-After; another IP is unaffected; the bucket refills', async () => {
    for (let i = 0; i < 20; i += 1) assert.equal((await registerFrom(server, '203.0.113.10')).status, 201, `registration ${i + 1}`);
    // One token comes back every 600 s / 20 = 30 s.
    assertLimited(await registerFrom(server, '203.0.113.10'), 30);
    assert.equal((await registerFrom(server, '203.0.113.11')).status, 201, 'another IP has its own bucket');

    clock.advance(29);
    assertLimited(await registerFrom(server, '203.0.113.10'), 1);
    clock.advance(1);
    assert.equal((await registerFrom(server, '203.0.113.10')).status, 201, 'one token after 30 s');
    assertLimited(await registerFrom(server, '203.0.113.10'), 30);

    clock.advance(600);
    for (let i = 0; i < 20; i += 1) assert.equal((await registerFrom(server, '203.0.113.10')).status, 201, `after the window, registration ${i + 1}`);
    assertLimited(await registerFrom(server, '203.0.113.10'));
  });

  test('a person reconnecting once a minute for an hour is never refused', async () => {
    for (let i = 0; i < 60; i += 1) {
      clock.advance(60);
      assert.equal((await registerFrom(server, '198.51.100.20')).status, 201, `connect ${i + 1}`);
    }
  });

  test('a client cannot pick its own bucket with X-Forwarded-For entries before the proxy’s', async () => {
    clock.advance(600);
    const statuses: number[] = [];
    for (let i = 0; i < 25; i += 1) {
      statuses.push((await registerFrom(server, `10.0.${i}.1, 198.51.100.30`)).status);
    }
    assert.deepEqual(statuses, [...Array<number>(20).fill(201), ...Array<number>(5).fill(429)]);
  });

  test('IPv6 clients share one bucket per /64', async () => {
    clock.advance(600);
    for (let i = 0; i < 20; i += 1) assert.equal((await registerFrom(server, `2001:db8:1:2::${(i + 1).toString(16)}`)).status, 201);
    assertLimited(await registerFrom(server, '2001:db8:1:2:ffff:ffff:ffff:ffff'));
    assertLimited(await registerFrom(server, '2001:0db8:0001:0002::abcd'));
    assert.equal((await registerFrom(server, '2001:db8:1:3::1')).status, 201, 'the next /64 is another client');
  });

  test('a refused registration from a browser can be read by it (CORS), and a flood writes no audit rows', async () => {
    clock.advance(600);
    for (let i = 0; i < 20; i += 1) await registerFrom(server, '192.0.2.50');
    // Audit events are written in batches off the request path: flushed, so the count holds the
    // accepted registrations' rows before the flood starts.
    const audited = async () => {
      await server.auth.admin.audit.flush();
      return (await server.auth.database.get<{ n: number }>('SELECT count(*) AS n FROM audit_events'))!.n;
    };
    const before = await audited();
    for (let i = 0; i < 50; i += 1) {
      const refused = await registerFrom(server, '192.0.2.50', { origin: 'http://localhost:6274' });
      assertLimited(refused);
      assert.equal(refused.headers.get('access-control-allow-origin'), '*');
      assert.match(refused.headers.get('access-control-expose-headers') ?? '', /retry-after/i, 'a browser client can read Retry-After');
    }
    assert.equal(await audited(), before, 'no audit row per refused request');
    const metric = await registry.getSingleMetricAsString('gatehouse_rate_limited_total');
    assert.match(metric, /gatehouse_rate_limited_total\{limit="registration",app="auth-server"\} (\d+)/);
    const counted = Number(/limit="registration"[^}]*\} (\d+)/.exec(metric)![1]);
    assert.ok(counted >= 50, metric);
  });
});

describe('token, revocation, introspection and sign-in form rate limits', () => {
  const clock = new TestClock();
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer({
      clock,
      configure: (c) => {
        c.authServer.trustProxy = true;
        c.authServer.rateLimits = { enabled: true, registration: { max: 20, window: 600 }, token: { max: 3, window: 60 }, signIn: { max: 2, window: 60 } };
      },
    });
  });
  after(() => server.close());

  async function post(path: string, ip: string) {
    const response = await fetch(`${server.issuer}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...from(ip), accept: 'text/html' },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: 'nobody', token: 'x', code: 'x' }),
    });
    const text = await response.text();
    assertNoStackTrace(text, path);
    return { status: response.status, text, headers: response.headers };
  }

  test('/oauth/token, /oauth/revoke and /oauth/introspect share one bucket per IP and answer 429 JSON past it', async () => {
    for (const path of ['/oauth/token', '/oauth/revoke', '/oauth/introspect']) {
      const answered = await post(path, '203.0.113.70');
      assert.ok(answered.status >= 400 && answered.status < 429, `${path}: ${answered.status}`);
    }
    for (const path of ['/oauth/token', '/OAUTH/REVOKE/', '/oauth/introspect']) {
      const refused = await post(path, '203.0.113.70');
      assertLimited({ status: refused.status, body: JSON.parse(refused.text) as Record<string, unknown>, headers: refused.headers }, 20);
    }
    assert.notEqual((await post('/oauth/token', '203.0.113.71')).status, 429, 'another IP');
    clock.advance(20);
    assert.notEqual((await post('/oauth/token', '203.0.113.70')).status, 429, 'refilled');
  });

  test('the sign-in form POSTs answer 429 with Retry-After on the error page past the limit', async () => {
    for (let i = 0; i < 2; i += 1) assert.notEqual((await post('/interaction/abc/login', '203.0.113.80')).status, 429);
    const refused = await post('/interaction/abc/consent', '203.0.113.80');
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '30');
    assert.match(refused.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(refused.text, /Too many requests/);
  });

  test('the counts survive a restart', async () => {
    clock.advance(600);
    for (let i = 0; i < 3; i += 1) assert.notEqual((await post('/oauth/token', '192.0.2.60')).status, 429);
    await server.restart();
    assert.equal((await post('/oauth/token', '192.0.2.60')).status, 429);
  });

  // The provider serves every GET route to HEAD too, running the whole authorization (an
  // interaction stored for an hour), so HEAD takes from the same bucket.
  for (const [method, ip] of [['GET', '203.0.113.85'], ['HEAD', '203.0.113.86']] as const) {
    test(`authorization requests by ${method} (each keeps an interaction for an hour) share the sign-in bucket and get the 429 page past it`, async () => {
      const authorize = async () => {
        const response = await fetch(`${server.issuer}/oauth/authorize?client_id=nobody&response_type=code`, { method, headers: from(ip), redirect: 'manual' });
        return { status: response.status, text: await response.text(), headers: response.headers };
      };
      for (let i = 0; i < 2; i += 1) assert.notEqual((await authorize()).status, 429);
      const refused = await authorize();
      assert.equal(refused.status, 429);
      assert.ok(refused.headers.get('retry-after'));
      assert.match(refused.headers.get('content-type') ?? '', /^text\/html/);
      if (method === 'GET') assertNoStackTrace(refused.text, '/oauth/authorize');
    });
  }

  test('a HEAD /oauth/authorize past the limit stores no interaction', async () => {
    const interactions = async () => Number((await server.auth.database.get<{ n: number }>("SELECT count(*) AS n FROM oidc_models WHERE model = 'Interaction'"))?.n);
    const client = await registerClient(server.issuer);
    const url = authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: 'http://localhost:4001/mcp' }, createPkce().challenge);
    const before = await interactions();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const response = await fetch(url, { method: 'HEAD', headers: from('203.0.113.87'), redirect: 'manual' });
      statuses.push(response.status);
    }
    assert.deepEqual(statuses, [303, 303, 429, 429, 429, 429]);
    assert.equal(await interactions(), before + 2, 'only the two let through stored one each');
  });

  test('other GET requests are never limited', async () => {
    for (let i = 0; i < 10; i += 1) {
      const response = await fetch(`${server.issuer}/.well-known/oauth-authorization-server`, { headers: from('203.0.113.90') });
      assert.equal(response.status, 200);
      await response.text();
    }
  });
});

for (const backend of TEST_BACKENDS) describe(`cap on registrations pending first use (${backend})`, () => {
  let server: TestAuthServer;
  before(async () => {
    // Per-IP limits stay off (the helper's default): the cap is server-wide, whatever the IPs.
    server = await startAuthServer({ backend, configure: (c) => { c.authServer.registration.maxPendingClients = 3; } });
  });
  after(() => server.close());

  test('refuses a registration past the cap with 429 until a pending client is used', async () => {
    const clients = [];
    for (let i = 0; i < 3; i += 1) clients.push(await registerClient(server.issuer));
    const refused = await registerFrom(server, '127.0.0.1');
    assertLimited(refused);
    assert.ok(Number(refused.headers.get('retry-after')) <= server.config.authServer.registration.unusedClientTtl);

    const result = await connect(server.issuer, { clientId: clients[0]!.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    assert.equal((await redeem(server.issuer, clients[0]!, result)).status, 200);
    assert.equal((await registerFrom(server, '127.0.0.1')).status, 201, 'a used client no longer counts');
    assertLimited(await registerFrom(server, '127.0.0.1'));
  });
});
