/**
 * /healthz (alive) and /readyz (dependencies usable) on both apps, and readiness failing for the
 * reasons it exists: a database that no longer answers, a key set that cannot be fetched; and
 * /readyz, public on the resource server's port, never turned into load on the auth-server.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createJwksProbe, FAILURE_CACHE_MS } from '../../apps/resource-server/src/ops/probe-jwks.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { freePort } from '../helpers/net.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { startResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer } from '../helpers/test-issuer.ts';
import { REPO_ROOT } from './support/processes.ts';
import { startBothApps, type BothApps } from './support/start-both-apps.ts';

async function health(url: string): Promise<{ status: number; body: Record<string, unknown>; cacheControl: string | null; retryAfter: string | null }> {
  const response = await fetch(url);
  return {
    status: response.status,
    body: await response.json() as Record<string, unknown>,
    cacheControl: response.headers.get('cache-control'),
    retryAfter: response.headers.get('retry-after'),
  };
}

/** A JWKS endpoint whose answer the test decides, counting hits. */
async function startJwksServer(port = 0): Promise<{ url: string; hits: () => number; answer: (status: number, body: unknown) => void; hang: () => void; close: () => Promise<void> }> {
  let reply: { status: number; body: unknown } | 'hang' = { status: 200, body: { keys: [{ kty: 'RSA', kid: 'k1', n: 'AQAB', e: 'AQAB' }] } };
  let count = 0;
  const server: Server = createServer((_req, res) => {
    count += 1;
    if (reply === 'hang') return;
    res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/jwks`,
    hits: () => count,
    answer: (status, body) => { reply = { status, body }; },
    hang: () => { reply = 'hang'; },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe('health endpoints of both apps', () => {
  let apps: BothApps;
  before(async () => {
    apps = await startBothApps();
  });
  after(() => apps.close());

  test('/healthz and /readyz answer 200, uncacheable, naming what readiness checked', async () => {
    for (const [base, checks] of [[apps.issuer, { database: 'ok', keys: 'ok', users: 'ok' }], [apps.resourceBase, { database: 'ok', jwks: 'ok', revocations: 'ok' }]] as const) {
      const alive = await health(`${base}/healthz`);
      assert.equal(alive.status, 200);
      assert.deepEqual(alive.body, { status: 'ok' });
      assert.equal(alive.cacheControl, 'no-store');
      const ready = await health(`${base}/readyz`);
      assert.equal(ready.status, 200, JSON.stringify(ready.body));
      assert.deepEqual(ready.body, { status: 'ready', checks });
      assert.equal(ready.cacheControl, 'no-store');
    }
  });

  test('the README\'s "Health checks" names each check /readyz reports, under the app that makes it', async () => {
    const section = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8').split(/^## /m).find((part) => part.startsWith('Health checks\n')) ?? '';
    const paragraphs = { 'auth-server': /Readiness of the auth-server:([\s\S]*?)Of the\s+resource server:/.exec(section)?.[1] ?? '', 'resource-server': /Of the\s+resource server:([\s\S]*?)Failures are/.exec(section)?.[1] ?? '' };
    for (const [app, base] of [['auth-server', apps.issuer], ['resource-server', apps.resourceBase]] as const) {
      const { checks } = (await health(`${base}/readyz`)).body as { checks: Record<string, string> };
      const missing = Object.keys(checks).filter((check) => !paragraphs[app].includes(`\`${check}\``));
      assert.deepEqual(missing, [], `${app}: README says what it checks, and an operator reading "${Object.keys(checks).join('", "')}" in a 503 finds each`);
    }
  });

  test('readiness fails (503, with Retry-After) when the database is no longer usable; liveness does not', async () => {
    await apps.auth.database.close();
    await apps.resourceDb.close();
    const auth = await health(`${apps.issuer}/readyz`);
    assert.equal(auth.status, 503);
    assert.deepEqual(auth.body, { status: 'not_ready', checks: { database: 'failed', keys: 'ok', users: 'ok' } }, 'no error message in the body');
    assert.equal(auth.retryAfter, '5', 'auth-server: a probe is told when to look again');
    const resource = await health(`${apps.resourceBase}/readyz`);
    assert.equal(resource.status, 503);
    assert.deepEqual(resource.body, { status: 'not_ready', checks: { database: 'failed', jwks: 'ok', revocations: 'ok' } });
    assert.equal(resource.retryAfter, '5', 'resource server: a probe is told when to look again');
    assert.equal((await health(`${apps.issuer}/healthz`)).status, 200);
    assert.equal((await health(`${apps.resourceBase}/healthz`)).status, 200);
    const warnings = apps.logLines.filter((l) => l.msg === 'readiness check failed');
    assert.ok(warnings.some((l) => l.app === 'auth-server' && l.check === 'database' && l.level === 40), 'the reason is logged at warn');
  });
});

describe('resource-server readiness and the issuer key set', () => {
  test('is not ready while the JWKS is unreachable, and ready again once the failure has stood FAILURE_CACHE_MS', async () => {
    const port = await freePort();
    const feed = await startTestIssuer(); // the revocation feed answers; only the key set is down
    const clock = TestClock.ahead(0);
    const written: string[] = [];
    const server = await startResourceServer({
      issuer: `http://127.0.0.1:${port}`,
      clock,
      logger: createLogger('resource-server', 'warn', { write: (line: string) => { written.push(line); } }),
      config: { jwksUri: `http://127.0.0.1:${port}/oauth/jwks`, revocation: { feedUri: `${feed.issuer}/oauth/revocations`, pollInterval: 0.2, maxStaleness: 30 } },
    });
    let jwks: Awaited<ReturnType<typeof startJwksServer>> | undefined;
    try {
      const down = await health(`${server.baseUrl}/readyz`);
      assert.equal(down.status, 503);
      assert.deepEqual(down.body, { status: 'not_ready', checks: { database: 'ok', jwks: 'failed', revocations: 'ok' } });
      assert.equal(down.retryAfter, '5');
      assert.equal((await health(`${server.baseUrl}/healthz`)).status, 200, 'still alive');
      // Not just "fetch failed": where, and what failed there.
      const warning = written.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.msg === 'readiness check failed' && line.check === 'jwks');
      assert.ok(warning, written.join(''));
      assert.equal(warning.reason, `the JWKS at http://127.0.0.1:${port}/oauth/jwks could not be fetched`);
      assert.match(String(warning.cause), new RegExp(`^ECONNREFUSED: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`));

      jwks = await startJwksServer(port);
      assert.equal((await health(`${server.baseUrl}/readyz`)).status, 503, 'the failure stands a while');
      clock.advance(FAILURE_CACHE_MS / 1000);
      const up = await health(`${server.baseUrl}/readyz`);
      assert.equal(up.status, 200, 'and then the JWKS is fetched again');
    } finally {
      await jwks?.close();
      await server.close();
      await feed.close();
    }
  });

  test('anonymous /readyz calls while the JWKS fails cost one fetch each FAILURE_CACHE_MS, however many and however concurrent', async () => {
    const issuer = await startTestIssuer();
    const clock = TestClock.ahead(0);
    const server = await startResourceServer({ issuer: issuer.issuer, clock });
    const jwksFetches = () => issuer.requests.filter((path) => path === '/oauth/jwks').length;
    const readyz = async () => (await fetch(`${server.baseUrl}/readyz`)).status;
    try {
      assert.equal(await readyz(), 200);
      issuer.unpublishKey(issuer.kid); // an empty key set: the probe fails
      clock.advance(10); // past the 10 s a success is trusted
      const before = jwksFetches();
      for (let i = 0; i < 100; i++) assert.equal(await readyz(), 503);
      assert.equal(jwksFetches() - before, 1, '100 calls one after another: one fetch');

      clock.advance(FAILURE_CACHE_MS / 1000);
      const statuses = await Promise.all(Array.from({ length: 20 }, readyz));
      assert.deepEqual(new Set(statuses), new Set([503]));
      assert.equal(jwksFetches() - before, 2, '20 calls at once after the failure expired: one more fetch between them');
    } finally {
      await server.close();
      await issuer.close();
    }
  });
});

describe('the JWKS probe', () => {
  test('remembers a success for cacheMs, then fetches again', async () => {
    const jwks = await startJwksServer();
    try {
      const clock = new TestClock();
      const probe = createJwksProbe({ jwksUri: jwks.url, cacheMs: 10_000, clock });
      await probe();
      clock.advance(9.5);
      await probe();
      assert.equal(jwks.hits(), 1);
      clock.advance(0.5);
      await probe();
      assert.equal(jwks.hits(), 2);
    } finally {
      await jwks.close();
    }
  });

  test('fails on an error status or a key set without keys, and remembers a failure for FAILURE_CACHE_MS', async () => {
    const jwks = await startJwksServer();
    try {
      const clock = new TestClock();
      const probe = createJwksProbe({ jwksUri: jwks.url, clock });
      jwks.answer(500, { error: 'server_error' });
      await assert.rejects(probe(), /answered 500/);
      jwks.answer(200, { keys: [] });
      clock.advance(FAILURE_CACHE_MS / 1000 - 0.5);
      await assert.rejects(probe(), /answered 500/, 'the failure still stands, with its reason');
      assert.equal(jwks.hits(), 1);
      clock.advance(0.5);
      await assert.rejects(probe(), /no keys/);
      jwks.answer(200, { keys: [{ kty: 'RSA', kid: 'k2', n: 'AQAB', e: 'AQAB' }] });
      clock.advance(FAILURE_CACHE_MS / 1000);
      await probe();
      assert.equal(jwks.hits(), 3);
    } finally {
      await jwks.close();
    }
  });

  test('callers that arrive while a fetch is under way share it, whether it fails or succeeds', async () => {
    const jwks = await startJwksServer();
    try {
      const clock = new TestClock();
      const probe = createJwksProbe({ jwksUri: jwks.url, clock });
      jwks.answer(503, {});
      const failed = await Promise.allSettled(Array.from({ length: 10 }, probe));
      assert.ok(failed.every((result) => result.status === 'rejected'));
      assert.equal(jwks.hits(), 1);
      jwks.answer(200, { keys: [{ kty: 'RSA', kid: 'k2', n: 'AQAB', e: 'AQAB' }] });
      clock.advance(FAILURE_CACHE_MS / 1000);
      await Promise.all(Array.from({ length: 10 }, probe));
      assert.equal(jwks.hits(), 2);
    } finally {
      await jwks.close();
    }
  });

  test('a JWKS nobody answers at: the error names the URL (never its user info, query or fragment) and what failed (ECONNREFUSED)', async () => {
    const port = await freePort();
    await assert.rejects(createJwksProbe({ jwksUri: `http://127.0.0.1:${port}/oauth/jwks?token=s3cret#frag=s3cret` })(), (err: Error) => {
      assert.equal(err.message, `the JWKS at http://127.0.0.1:${port}/oauth/jwks could not be fetched`);
      assert.equal((err.cause as { code?: string }).code, 'ECONNREFUSED');
      assert.doesNotMatch(String((err.cause as Error).message), /s3cret/);
      return true;
    });
    // fetch refuses a URL with user info, quoting it whole: none of that reaches the error.
    await assert.rejects(createJwksProbe({ jwksUri: `http://ops:hunter2@127.0.0.1:${port}/oauth/jwks` })(), (err: Error) => {
      assert.equal(err.message, `the JWKS at http://127.0.0.1:${port}/oauth/jwks could not be fetched`);
      assert.equal(err.cause, undefined);
      return true;
    });
  });

  test('gives up after timeoutMs when the JWKS does not answer', async () => {
    const jwks = await startJwksServer();
    try {
      jwks.hang();
      const started = performance.now();
      await assert.rejects(createJwksProbe({ jwksUri: jwks.url, timeoutMs: 100 })(), /did not answer within 100 ms/);
      assert.ok(performance.now() - started < 1000);
    } finally {
      await jwks.close();
    }
  });
});
