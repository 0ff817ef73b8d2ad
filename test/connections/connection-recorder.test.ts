/**
 * The connection flight recorder's write path (apps/shared/connections/connection-recorder.ts):
 * each app's default recorder writes its events to its own table, on SQLite and PostgreSQL;
 * fields are stamped and trimmed (URLs to origin + path even when an emitter forgot); a clean
 * close loses no event; refusals are counted by step and reason; a full queue drops and counts
 * instead of holding the request back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { NewConnectionEvent } from '../../apps/shared/connection-events.ts';
import { ConnectionEventStore } from '../../apps/shared/connections/connection-event-store.ts';
import { DatabaseConnectionRecorder } from '../../apps/shared/connections/connection-recorder.ts';
import { createConnectionMetrics } from '../../apps/shared/connections/connection-metrics.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { createMetricsRegistry } from '../../apps/shared/metrics.ts';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import { createResourceServer } from '../../apps/resource-server/src/create-resource-server.ts';
import { startAuthServer } from '../helpers/start-auth-server.ts';
import { testDatabaseSettings, TEST_BACKENDS } from '../helpers/test-database.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { TEST_RESOURCE } from '../helpers/test-issuer.ts';
import type { ResourceServerConfig } from '../../apps/shared/config/resource-server-section.ts';

const silent = createLogger('test', 'silent');

/** A refusal as the as-events slice records it at /oauth/authorize, with a query it should not have passed. */
const REFUSED_AUTHORIZATION: NewConnectionEvent = {
  step: 'authorization',
  outcome: 'refused',
  error: 'invalid_request',
  reasonCode: 'redirect_uri_not_allowed',
  reason: 'redirect_uri `https://evil.example/cb` is not one this client registered',
  clientId: 'client-1',
  ip: '203.0.113.7',
  userAgent: `Mozilla/5.0 ${'x'.repeat(400)}`,
  redirectUri: 'https://evil.example/cb?code=secret-code&state=s#frag',
  resource: 'https://mcp.example.com/mcp?token=abc',
  scope: 'mcp:read offline_access',
};

for (const backend of TEST_BACKENDS) {
  describe(`connection recorder (${backend})`, () => {
    const dirs: string[] = [];
    after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

    test('the auth-server writes its events to connection_events, trimmed, and a clean close loses none', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-conn-'));
      dirs.push(dir);
      const clock = new TestClock(Date.UTC(2026, 11, 1, 14, 2, 11));
      const server = await startAuthServer({ backend, dir, clock });
      server.auth.connectionRecorder.record(REFUSED_AUTHORIZATION);
      for (let i = 0; i < 499; i++) server.auth.connectionRecorder.record({ step: 'server_metadata', outcome: 'ok', ip: '203.0.113.7' });
      // No flush: close() must write what is queued.
      await server.close();

      const db = await openDatabase(server.config.authServer.database, 'auth-server');
      try {
        const events = await new ConnectionEventStore(db, 'connection_events').read({ limit: 1000 });
        assert.equal(events.length, 500);
        const [first] = events;
        assert.equal(first!.app, 'auth-server');
        assert.equal(first!.at, clock.now());
        assert.match(first!.id, /^a[0-9a-z]+\.[0-9a-z]+$/, 'the app letter, the time and the sequence number, stored in no column');
        assert.equal(new Set(events.map((e) => e.id)).size, 500, 'every id is unique');
        assert.equal(first!.userAgent!.length, 256);
        assert.equal(first!.redirectUri, 'https://evil.example/cb');
        assert.equal(first!.resource, 'https://mcp.example.com/mcp');
        assert.deepEqual(
          { step: first!.step, outcome: first!.outcome, error: first!.error, reasonCode: first!.reasonCode, reason: first!.reason, clientId: first!.clientId, ip: first!.ip, scope: first!.scope },
          { step: 'authorization', outcome: 'refused', error: 'invalid_request', reasonCode: 'redirect_uri_not_allowed', reason: REFUSED_AUTHORIZATION.reason, clientId: 'client-1', ip: '203.0.113.7', scope: 'mcp:read offline_access' },
        );
        assert.equal(new Set(events.map((e) => e.id)).size, 500, 'ids are unique');
      } finally {
        await db.close();
      }
    });

    test('lone surrogates from a JSON body are stored as U+FFFD, and two of them in one event lose nothing', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-conn-'));
      dirs.push(dir);
      const server = await startAuthServer({ backend, dir });
      // A registration body's redirect URI and scope, as JSON.parse hands them over ("\ud800" is valid JSON).
      server.auth.connectionRecorder.record({ step: 'registration', outcome: 'refused', reasonCode: 'invalid_redirect_uri', redirectUri: '\ud800', scope: 'mcp:read \ud801' });
      await server.close();
      const db = await openDatabase(server.config.authServer.database, 'auth-server');
      try {
        const events = (await new ConnectionEventStore(db, 'connection_events').read({ limit: 1000 })).filter((e) => e.step === 'registration' && e.outcome === 'refused');
        assert.deepEqual(events.map((e) => [e.redirectUri, e.scope]), [['\ufffd', 'mcp:read \ufffd']]);
      } finally {
        await db.close();
      }
    });

    test('the resource server writes its events to mcp_connection_events, and close() writes what is queued', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-conn-rs-'));
      dirs.push(dir);
      const database = await testDatabaseSettings(backend, join(dir, 'resource-server.db'));
      const db = await openDatabase(database, 'resource-server');
      const config = {
        port: 0, host: '127.0.0.1', resource: TEST_RESOURCE, issuer: 'http://127.0.0.1:9', jwksUri: 'http://127.0.0.1:9/oauth/jwks',
        authorizationServerMetadataUri: 'http://127.0.0.1:9/.well-known/oauth-authorization-server', allowedOrigins: [], connections: { retention: 86400, maxEvents: 1000, stallAfter: 600 },
        databaseFile: join(dir, 'resource-server.db'), database, maxBodyBytes: 1024, tokenCacheSize: 10, sessionIdleTtl: 60, maxSessions: 10,
        auditRetention: 86400, maxTokenLifetime: 3600, challengeScopes: 'all', builtInTools: true, servers: [], maxProcesses: 1, maxProcessesPerUser: 1,
        revocation: { feedUri: 'http://127.0.0.1:9/oauth/revocations', pollInterval: 1, maxStaleness: 30 },
      } as unknown as ResourceServerConfig;
      const server = createResourceServer({ config, db, logger: silent });
      server.connectionRecorder.record({
        step: 'mcp_request', outcome: 'refused', error: 'invalid_token', reasonCode: 'token_expired',
        reason: 'the access token expired at 14:02:11 UTC; the client should refresh', clientId: 'c', accountId: 'u1', grantId: 'g1', resource: `${TEST_RESOURCE}?x=1`,
      });
      server.connectionRecorder.record({ step: 'mcp_challenge', outcome: 'ok', ip: '127.0.0.1' });
      await server.close();
      try {
        const events = await new ConnectionEventStore(db, 'mcp_connection_events').read({ limit: 10 });
        assert.deepEqual(events.map((e) => [e.app, e.step, e.outcome, e.reasonCode]), [
          ['resource-server', 'mcp_request', 'refused', 'token_expired'],
          ['resource-server', 'mcp_challenge', 'ok', undefined],
        ]);
        assert.equal(events[0]!.resource, TEST_RESOURCE);
        assert.equal(events[0]!.grantId, 'g1');
      } finally {
        await db.close();
      }
    });
  });
}

describe('the failure counter in each app\'s registry', () => {
  test('the auth-server counts its refusals under app="auth-server", the resource server under app="resource-server"', async () => {
    const authRegistry = createMetricsRegistry('auth-server');
    const auth = await startAuthServer({ registry: authRegistry });
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-conn-metrics-'));
    const db = await openDatabase({ sqliteFile: join(dir, 'resource-server.db') }, 'resource-server');
    const resourceRegistry = createMetricsRegistry('resource-server');
    const config = {
      port: 0, host: '127.0.0.1', resource: TEST_RESOURCE, issuer: auth.issuer, jwksUri: `${auth.issuer}/oauth/jwks`,
      authorizationServerMetadataUri: `${auth.issuer}/.well-known/oauth-authorization-server`, allowedOrigins: [], connections: { retention: 86400, maxEvents: 1000, stallAfter: 600 },
      databaseFile: join(dir, 'resource-server.db'), database: { sqliteFile: join(dir, 'resource-server.db') }, maxBodyBytes: 1024, tokenCacheSize: 10, sessionIdleTtl: 60,
      maxSessions: 10, auditRetention: 86400, maxTokenLifetime: 3600, challengeScopes: 'all', builtInTools: true, servers: [], maxProcesses: 1, maxProcessesPerUser: 1,
      revocation: { feedUri: `${auth.issuer}/oauth/revocations`, pollInterval: 1, maxStaleness: 30 },
    } as unknown as ResourceServerConfig;
    const resource = createResourceServer({ config, db, logger: silent, registry: resourceRegistry });
    try {
      auth.auth.connectionRecorder.record({ step: 'code_exchange', outcome: 'refused', error: 'invalid_grant', reasonCode: 'pkce_mismatch', reason: 'PKCE verifier does not match the challenge' });
      resource.connectionRecorder.record({ step: 'step_up', outcome: 'refused', error: 'insufficient_scope', reasonCode: 'insufficient_scope', reason: '`notes_write` needs `mcp:write`; the token has `mcp:read`' });
      assert.match(await authRegistry.metrics(), /^gatehouse_connection_failures_total\{step="code_exchange",reason="pkce_mismatch",app="auth-server"\} 1$/m);
      assert.match(await resourceRegistry.metrics(), /^gatehouse_connection_failures_total\{step="step_up",reason="insufficient_scope",app="resource-server"\} 1$/m);
    } finally {
      await resource.close();
      await db.close();
      await auth.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('connection recorder on the request path', () => {
  async function recorderOn(maxQueued?: number, logger = silent) {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-conn-unit-'));
    const db = await openDatabase({ sqliteFile: join(dir, 'auth-server.db') }, 'auth-server');
    const registry = createMetricsRegistry('auth-server');
    const metrics = createConnectionMetrics(registry);
    const store = new ConnectionEventStore(db, 'connection_events');
    const recorder = new DatabaseConnectionRecorder({ store, app: 'auth-server', clock: new TestClock(), logger, metrics, maxQueued });
    return {
      recorder, store, registry, db,
      async close() {
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  test('counts refusals by step and reason code; a code that is not one is counted as other', async () => {
    const { recorder, registry, close } = await recorderOn();
    recorder.record(REFUSED_AUTHORIZATION);
    recorder.record(REFUSED_AUTHORIZATION);
    recorder.record({ step: 'code_exchange', outcome: 'refused', error: 'invalid_grant', reasonCode: 'code_replayed', reason: 'authorization code already used' });
    recorder.record({ step: 'code_exchange', outcome: 'refused', error: 'invalid_grant', reasonCode: 'Some Text <from a request>' });
    recorder.record({ step: 'code_exchange', outcome: 'ok' });
    await recorder.flush();
    const text = await registry.metrics();
    const lines = text.split('\n').filter((line) => line.startsWith('gatehouse_connection_failures_total{'));
    assert.deepEqual(lines.sort(), [
      'gatehouse_connection_failures_total{step="authorization",reason="redirect_uri_not_allowed",app="auth-server"} 2',
      'gatehouse_connection_failures_total{step="code_exchange",reason="code_replayed",app="auth-server"} 1',
      'gatehouse_connection_failures_total{step="code_exchange",reason="other",app="auth-server"} 1',
    ]);
    await close();
  });

  test('a full queue drops the event and counts it, instead of waiting', async () => {
    const { recorder, store, registry, close } = await recorderOn(3);
    for (let i = 0; i < 5; i++) recorder.record({ step: 'server_metadata', outcome: 'ok' });
    await recorder.flush();
    assert.equal((await store.read({ limit: 10 })).length, 3);
    assert.match(await registry.metrics(), /^gatehouse_connection_events_dropped_total\{app="auth-server"\} 2$/m);
    await close();
  });

  test('record never throws and a failed write is logged, not thrown', async () => {
    const logged: Array<{ level: number; msg: string }> = [];
    const logger = createLogger('test', 'warn', { write: (line: string) => logged.push(JSON.parse(line)) });
    const { recorder, db, close } = await recorderOn(undefined, logger);
    await db.close();
    assert.doesNotThrow(() => recorder.record({ step: 'server_metadata', outcome: 'ok' }));
    await recorder.flush();
    assert.deepEqual(logged.map(({ level, msg }) => [level, msg]), [[40, 'a connection event could not be written']]);
    await close().catch(() => {});
  });

  test('record writes nothing on the request path: the batch is written after the turn, many events in one', async () => {
    const { recorder, store, close } = await recorderOn();
    for (let i = 0; i < 300; i++) recorder.record(REFUSED_AUTHORIZATION);
    // Within the same turn (a microtask later), nothing has touched the table yet.
    assert.equal((await store.read({ limit: 1000 })).length, 0);
    await new Promise((resolve) => setImmediate(resolve));
    await recorder.flush();
    assert.equal((await store.read({ limit: 1000 })).length, 300);
    await close();
  });
});
