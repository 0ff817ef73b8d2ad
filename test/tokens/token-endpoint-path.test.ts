/**
 * Issue 15: the token endpoints take a short way through the auth-server's middleware
 * (http/shortcut-token-endpoints.ts) and write their log line without the redaction pass; what
 * an operator and a client see stays as on every other route. Issue 15 point 6: the log stays
 * one JSON object per request at info.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { createLogger, withoutRedaction } from '../../apps/shared/logger.ts';
import { createMetricsRegistry, type Registry } from '../../apps/shared/metrics.ts';
import { connect, redeem, refresh, registerClient, tokenRequest, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { waitFor } from '../helpers/wait-for.ts';

const RESOURCE = 'http://localhost:4001/mcp';

type Line = Record<string, unknown>;

function collectingLogger(level: string): { logger: ReturnType<typeof createLogger>; lines: Line[] } {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const text of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(text) as Line);
      done();
    },
  });
  return { logger: createLogger('auth-server', level, sink), lines };
}

for (const backend of TEST_BACKENDS) {
  describe(`token endpoints through the auth-server (${backend})`, () => {
    let server: TestAuthServer;
    let registry: Registry;
    let lines: Line[];
    let client: RegisteredClient;
    let refreshToken: string;

    before(async () => {
      const collected = collectingLogger('info');
      lines = collected.lines;
      registry = createMetricsRegistry('auth-server');
      server = await startAuthServer({ backend, logger: collected.logger, registry });
      client = await registerClient(server.issuer);
      const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
      const tokens = await redeem(server.issuer, client, result);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      refreshToken = tokens.body.refresh_token as string;
    });
    after(() => server.close());

    test('a refresh grant leaves exactly one JSON line at info: the request line, with what an operator needs', async () => {
      const before = lines.length;
      const response = await refresh(server.issuer, client, refreshToken, {}, { 'x-request-id': 'refresh-one-line' });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      refreshToken = response.body.refresh_token as string;
      const line = await waitFor('the request line', () => lines.find((l) => l.requestId === 'refresh-one-line'));
      // Anything else the request logged would have been written before its response closed.
      const written = lines.slice(before);
      assert.deepEqual(written, [line], `lines written for one refresh grant: ${JSON.stringify(written)}`);
      assert.equal(line.level, 30);
      assert.equal(line.msg, 'request');
      assert.equal(line.app, 'auth-server');
      assert.equal(typeof line.time, 'string');
      assert.equal(line.method, 'POST');
      assert.equal(line.path, '/oauth/token');
      assert.equal(line.status, 200);
      assert.equal(typeof line.ms, 'number');
    });

    test('a token response carries the security headers, the request id and no-store, like every route', async () => {
      const response = await refresh(server.issuer, client, refreshToken);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      refreshToken = response.body.refresh_token as string;
      assert.match(response.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
      assert.equal(response.headers.get('x-frame-options'), 'DENY');
      assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      assert.match(response.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(response.headers.get('cache-control'), 'no-store');
    });

    test('token and revocation requests are timed under their route template and status', async () => {
      await tokenRequest(server.issuer, { grant_type: 'refresh_token', client_id: client.client_id, refresh_token: 'not-a-token' });
      const revoke = await fetch(`${server.issuer}/OAUTH/REVOKE/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: 'not-a-token', client_id: client.client_id }) });
      assert.equal(revoke.status, 200);
      // Observed when each response closes, which may come just after the client has read it.
      // The route is the template oidc-provider's router matched, whatever the spelling.
      for (const [route, status] of [['/oauth/token', '400'], ['/oauth/revoke', '200']]) {
        const count = `gatehouse_http_request_duration_seconds_count{app="auth-server",method="POST",route="${route}",status="${status}"}`;
        await waitFor(`${count} counted`, async () => (await registry.metrics()).split('\n').some((line) => line.startsWith(`${count} `) && Number(line.split(' ')[1]) > 0));
      }
      await waitFor('the revocation line', () => lines.find((l) => l.path === '/OAUTH/REVOKE/' && l.status === 200));
    });

    test('an oversized token request is refused with 413 invalid_request in JSON, before the provider reads it', async () => {
      const response = await tokenRequest(server.issuer, { grant_type: 'refresh_token', client_id: client.client_id, refresh_token: 'x'.repeat(17 * 1024) });
      assert.equal(response.status, 413);
      assert.equal(response.body.error, 'invalid_request');
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    });

    test('a GET on the token endpoint still takes the full stack: 405 with Allow', async () => {
      const response = await fetch(`${server.issuer}/oauth/token`);
      assert.equal(response.status, 405);
      assert.equal(response.headers.get('allow'), 'POST, OPTIONS');
    });
  });
}

describe('withoutRedaction', () => {
  test('writes to the same destination at the same level, without redacting; the logger it came from still redacts', () => {
    const lines: string[] = [];
    const sink = { write: (text: string) => lines.push(text) } as unknown as pino.DestinationStream;
    const logger = createLogger('auth-server', 'info', sink);
    const plain = withoutRedaction(logger);
    plain.debug({ path: '/below-the-level' }, 'request');
    plain.info({ path: '/oauth/token', token: 'shown' }, 'request');
    logger.info({ token: 'hidden' }, 'other');
    assert.equal(lines.length, 2);
    const [first, second] = lines.map((text) => JSON.parse(text) as Line);
    assert.equal(first!.app, 'auth-server');
    assert.equal(first!.level, 30);
    assert.equal(first!.path, '/oauth/token');
    assert.equal(first!.token, 'shown', 'no redaction pass on this logger: only for fixed fields that hold no secret');
    assert.equal(second!.token, '[redacted]');
  });
});
