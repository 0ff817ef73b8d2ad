/**
 * Streamable HTTP sessions: bound to the token subject that opened them, authenticated on every
 * request, protocol version checked, ended by DELETE, bounded per user, overall and in time, and
 * kept in the database, so a process that did not open a session rebuilds it as the client left
 * it (test/mcp/replicas.test.ts has two replicas behind a round-robin).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { systemClock } from '../../apps/shared/clock.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { openDatabase, type DatabaseSettings } from '../../apps/shared/storage/open-database.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { McpSessions } from '../../apps/resource-server/src/mcp/mcp-sessions.ts';
import { McpSessionStore } from '../../apps/resource-server/src/storage/mcp-session-store.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { connectClient, mcpRequest } from '../helpers/mcp-http.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { TEST_BACKENDS, testDatabaseSettings } from '../helpers/test-database.ts';

const TOOLS_LIST = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} };

/** A tools/list inside `sessionId`, with the headers an initialized client sends. */
function inSession(url: string, sessionId: string, token: string | undefined, headers: Record<string, string> = {}): Promise<Response> {
  return mcpRequest(url, { token, body: TOOLS_LIST, headers: { 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-11-25', ...headers } });
}

/** Opens a session with a raw initialize (and the initialized notification); returns its id. */
async function openSession(url: string, token: string): Promise<string> {
  const response = await mcpRequest(url, { token });
  assert.equal(response.status, 200);
  const sessionId = response.headers.get('mcp-session-id');
  assert.ok(sessionId);
  const initialized = await mcpRequest(url, { token, body: { jsonrpc: '2.0', method: 'notifications/initialized' }, headers: { 'Mcp-Session-Id': sessionId } });
  assert.equal(initialized.status, 202);
  return sessionId;
}

for (const backend of TEST_BACKENDS) {
  describe(`MCP sessions (${backend})`, () => {
    let issuer: TestIssuer;
    let server: RunningResourceServer;
    const clients: Client[] = [];

    before(async () => {
      issuer = await startTestIssuer();
      server = await startResourceServer({ issuer: issuer.issuer, backend });
    });
    after(async () => {
      for (const client of clients) await client.close();
      await server?.close();
      await issuer?.close();
    });

    test('gives each session a random id', async () => {
      const token = await issuer.mint();
      const ids = [await openSession(server.mcpUrl, token), await openSession(server.mcpUrl, token)];
      assert.notEqual(ids[0], ids[1]);
      for (const id of ids) assert.match(id, /^[0-9a-f-]{36}$/);
    });

    test('refuses another user\'s token on a session (404) and leaves the session to its owner', async () => {
      const alice = randomUUID();
      const { client, transport } = await connectClient(server.mcpUrl, await issuer.mint({ claims: { sub: alice } }));
      clients.push(client);
      const response = await inSession(server.mcpUrl, transport.sessionId!, await issuer.mint({ claims: { sub: randomUUID() } }));
      assert.equal(response.status, 404);
      assert.equal((await response.json()).error.code, -32001);
      assert.ok((await client.listTools()).tools.length > 0);
    });

    test('lets the same user continue a session with a new token (after a refresh)', async () => {
      const alice = randomUUID();
      const sessionId = await openSession(server.mcpUrl, await issuer.mint({ claims: { sub: alice } }));
      const refreshed = await issuer.mint({ claims: { sub: alice, jti: randomUUID() } });
      assert.equal((await inSession(server.mcpUrl, sessionId, refreshed)).status, 200);
    });

    test('authenticates every request inside a session', async () => {
      const alice = randomUUID();
      const sessionId = await openSession(server.mcpUrl, await issuer.mint({ claims: { sub: alice } }));
      assert.equal((await inSession(server.mcpUrl, sessionId, undefined)).status, 401);
      const expired = await issuer.mint({ claims: { sub: alice, exp: Math.floor(Date.now() / 1000) - 60 } });
      assert.equal((await inSession(server.mcpUrl, sessionId, expired)).status, 401);
    });

    test('answers an unknown session id with 404, so the client starts again', async () => {
      assert.equal((await inSession(server.mcpUrl, randomUUID(), await issuer.mint())).status, 404);
    });

    test('answers a request without session id that is not initialize with 400', async () => {
      const response = await mcpRequest(server.mcpUrl, { token: await issuer.mint(), body: TOOLS_LIST });
      assert.equal(response.status, 400);
    });

    test('answers an unsupported MCP-Protocol-Version with 400', async () => {
      const token = await issuer.mint();
      const sessionId = await openSession(server.mcpUrl, token);
      const response = await inSession(server.mcpUrl, sessionId, token, { 'MCP-Protocol-Version': '1999-01-01' });
      assert.equal(response.status, 400);
      assert.match((await response.json()).error.message, /Unsupported protocol version/);
      assert.equal((await inSession(server.mcpUrl, sessionId, token, { 'MCP-Protocol-Version': '2025-06-18' })).status, 200);
    });

    test('opens the server-to-client event stream on GET within a session', async () => {
      const token = await issuer.mint();
      const sessionId = await openSession(server.mcpUrl, token);
      const response = await mcpRequest(server.mcpUrl, { method: 'GET', token, headers: { 'Mcp-Session-Id': sessionId } });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
      await response.body?.cancel();
    });

    test('ends a session on DELETE', async () => {
      const { client, transport } = await connectClient(server.mcpUrl, await issuer.mint({ claims: { sub: randomUUID() } }));
      clients.push(client);
      const sessionId = transport.sessionId!;
      await transport.terminateSession();
      const token = await issuer.mint();
      assert.equal((await inSession(server.mcpUrl, sessionId, token)).status, 404);
    });
  });

  describe(`MCP session limits (${backend})`, () => {
    let issuer: TestIssuer;
    let server: RunningResourceServer;

    before(async () => {
      issuer = await startTestIssuer();
      server = await startResourceServer({ issuer: issuer.issuer, backend, maxSessionsPerUser: 2, config: { maxSessions: 3 } });
    });
    after(async () => {
      await server?.close();
      await issuer?.close();
    });

    test('closes a user\'s oldest session beyond the per-user limit, and only theirs', async () => {
      const bob = await issuer.mint({ claims: { sub: randomUUID() } });
      const bobSession = await openSession(server.mcpUrl, bob);
      const alice = await issuer.mint({ claims: { sub: randomUUID() } });
      const [first, second, third] = [
        await openSession(server.mcpUrl, alice), await openSession(server.mcpUrl, alice), await openSession(server.mcpUrl, alice),
      ];
      assert.equal((await inSession(server.mcpUrl, first!, alice)).status, 404);
      assert.equal((await inSession(server.mcpUrl, second!, alice)).status, 200);
      assert.equal((await inSession(server.mcpUrl, third!, alice)).status, 200);
      assert.equal((await inSession(server.mcpUrl, bobSession, bob)).status, 200);
    });

    test('closes the least recently used session beyond the overall limit', async () => {
      const tokens = await Promise.all([1, 2, 3, 4].map(() => issuer.mint({ claims: { sub: randomUUID() } })));
      const sessions: string[] = [];
      for (const token of tokens) sessions.push(await openSession(server.mcpUrl, token));
      assert.equal((await inSession(server.mcpUrl, sessions[0]!, tokens[0])).status, 404);
      assert.equal((await inSession(server.mcpUrl, sessions[3]!, tokens[3])).status, 200);
    });

  });

  describe(`MCP session idle timeout (${backend})`, () => {
    // Made when the suite starts, not when the file loads: tokens are minted on the wall clock.
    let clock: TestClock;
    let issuer: TestIssuer;
    let server: RunningResourceServer;

    before(async () => {
      clock = new TestClock();
      issuer = await startTestIssuer();
      // The revocation copy's age is on the same clock: a long max_staleness keeps it current
      // while the test moves time on faster than the feed is polled.
      const revocation = { feedUri: `${issuer.issuer}/oauth/revocations`, pollInterval: 0.2, maxStaleness: 3600 };
      server = await startResourceServer({ issuer: issuer.issuer, backend, config: { sessionIdleTtl: 60, revocation }, clock });
    });
    after(async () => {
      await server?.close();
      await issuer?.close();
    });

    test('closes a session left idle past its timeout, and not before', async () => {
      const token = await issuer.mint({ claims: { sub: randomUUID() } });
      const sessionId = await openSession(server.mcpUrl, token);
      clock.advance(59);
      assert.equal((await inSession(server.mcpUrl, sessionId, token)).status, 200, 'a request within the timeout keeps it');
      clock.advance(59);
      assert.equal((await inSession(server.mcpUrl, sessionId, token)).status, 200, 'idle time counts from the last request');
      clock.advance(60);
      assert.equal((await inSession(server.mcpUrl, sessionId, token)).status, 404);
    });
  });

  describe(`MCP sessions kept in the database (${backend})`, () => {
    let dir: string;
    let settings: DatabaseSettings;
    let issuer: TestIssuer;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'gatehouse-rs-sessions-'));
      settings = await testDatabaseSettings(backend, join(dir, 'resource-server.db'));
      issuer = await startTestIssuer();
    });
    after(async () => {
      await issuer?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('a session continues after the server restarts', async () => {
      const token = await issuer.mint({ claims: { sub: randomUUID() } });
      const first = await startResourceServer({ issuer: issuer.issuer, config: { database: settings } });
      const sessionId = await openSession(first.mcpUrl, token);
      await first.close();
      const second = await startResourceServer({ issuer: issuer.issuer, config: { database: settings } });
      try {
        assert.equal((await inSession(second.mcpUrl, sessionId, token)).status, 200);
      } finally {
        await second.close();
      }
    });

    describe('rebuilt from its record', () => {
      let db: SqlDatabase;
      let store: McpSessionStore;
      let sessions: McpSessions;
      const built: Server[] = [];
      const limits = { maxSessions: 100, maxSessionsPerSubject: 10 };

      before(async () => {
        db = await openDatabase(settings, 'resource-server');
        store = new McpSessionStore(db);
        sessions = new McpSessions({
          createServer: () => {
            const server = new Server({ name: 'test', version: '1.0.0' }, { capabilities: { tools: {} } });
            built.push(server);
            return server;
          },
          store,
          idleTtlMs: 60_000,
          ...limits,
          logger: createLogger('resource-server', 'silent'),
          clock: systemClock,
        });
      });
      after(async () => {
        await sessions?.closeAll();
        await db?.close();
      });

      test('knows the client\'s capabilities and clientInfo as if it had initialized here, and two requests at once rebuild it once', async () => {
        const initializeParams = {
          protocolVersion: '2025-06-18',
          capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } },
          clientInfo: { name: 'claude-ai', version: '0.1.0' },
        };
        const id = randomUUID();
        // As the replica that answered the initialize recorded it.
        await store.open({ id, subject: 'alice', protocolVersion: '2025-06-18', initializeParams }, limits, Date.now());
        const before = built.length;
        const [session, again] = await Promise.all([sessions.find(id, 'alice'), sessions.find(id, 'alice')]);
        assert.ok(session);
        assert.equal(again, session);
        assert.equal(built.length - before, 1);
        assert.equal(session.transport.sessionId, id);
        assert.deepEqual(session.server.getClientCapabilities(), initializeParams.capabilities);
        assert.deepEqual(session.server.getClientVersion(), initializeParams.clientInfo);
      });

      test('rebuilds nothing for another subject, an unknown id or a session idle past its timeout', async () => {
        const id = randomUUID();
        const params = { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } };
        await store.open({ id, subject: 'bob', protocolVersion: '2025-11-25', initializeParams: params }, limits, Date.now() - 60_000);
        const before = built.length;
        assert.equal(await sessions.find(randomUUID(), 'bob'), undefined);
        assert.equal(await sessions.find(id, 'mallory'), undefined);
        assert.equal(await sessions.find(id, 'bob'), undefined, 'idle for the whole timeout');
        assert.equal(built.length, before);
      });
    });
  });
}
