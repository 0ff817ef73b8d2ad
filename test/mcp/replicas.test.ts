/**
 * Two resource-server replicas on one PostgreSQL database, no sticky sessions: the real MCP SDK
 * client's requests alternate between them (a round-robin fetch, as a load balancer would send
 * them), and the session, its notes, its subject binding, its end and the tool-call audit are the
 * same whichever replica answers; an HTTP server behind the gateway gets one upstream session
 * per replica that serves the client's session, opened when that replica first needs it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';
import { jsonRpcMessageOf, mcpRequest } from '../helpers/mcp-http.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../gateway/support/recording-upstream.ts';
import { httpServer } from '../gateway/support/upstreams.ts';
import { waitForServers } from '../gateway/support/gateway-client.ts';

interface Structured<T> {
  structuredContent?: T;
}

interface Served {
  replica: string;
  /** e.g. `POST tools/call`, `GET`, `DELETE`. */
  request: string;
  inSession: boolean;
}

/** A fetch that sends each request to the next replica in turn, and records which served what. */
function roundRobin(replicas: RunningResourceServer[]): { fetch: FetchLike; served: Served[] } {
  const served: Served[] = [];
  let next = 0;
  const fetchNext: FetchLike = (url, init) => {
    const replica = replicas[next++ % replicas.length]!;
    const target = new URL(url);
    target.host = new URL(replica.baseUrl).host;
    const rpc = typeof init?.body === 'string' ? (JSON.parse(init.body) as { method?: string }).method : undefined;
    served.push({ replica: replica.baseUrl, request: [init?.method ?? 'GET', rpc].filter(Boolean).join(' '), inSession: new Headers(init?.headers).has('mcp-session-id') });
    return fetch(target, init);
  };
  return { fetch: fetchNext, served };
}

/** One tools/call sent to one replica inside `sessionId`; its JSON-RPC answer. */
async function callOn(replica: RunningResourceServer, sessionId: string, token: string, name: string, args: Record<string, unknown> = {}) {
  const response = await mcpRequest(replica.mcpUrl, {
    token,
    headers: { 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-11-25' },
    body: { jsonrpc: '2.0', id: randomUUID(), method: 'tools/call', params: { name, arguments: args } },
  });
  return { status: response.status, message: response.status === 200 ? jsonRpcMessageOf(await response.text()) : undefined };
}

describe('MCP sessions across replicas (postgres)', { skip: !TEST_BACKENDS.includes('postgres') && 'needs PostgreSQL' }, () => {
  let issuer: TestIssuer;
  let a: RunningResourceServer;
  let b: RunningResourceServer;
  /** A third replica, outside the round-robin: it holds no session until asked for one. */
  let c: RunningResourceServer;
  const clients: Client[] = [];

  before(async () => {
    issuer = await startTestIssuer();
    const databaseUrl = await createTestPostgresDatabase();
    a = await startResourceServer({ issuer: issuer.issuer, databaseUrl });
    b = await startResourceServer({ issuer: issuer.issuer, databaseUrl });
    c = await startResourceServer({ issuer: issuer.issuer, databaseUrl });
  });
  after(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await a?.close();
    await b?.close();
    await c?.close();
    await issuer?.close();
  });

  async function connectAlternating(token: string) {
    const { fetch, served } = roundRobin([a, b]);
    const client = new Client({ name: 'gatehouse-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(a.mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } }, fetch });
    await client.connect(transport);
    clients.push(client);
    return { client, transport, served };
  }

  test('a session opened on one replica continues on the other, request after request', async () => {
    const alice = randomUUID();
    const token = await issuer.mint({ claims: { sub: alice, preferred_username: 'alice', scope: 'mcp:read mcp:write' } });
    const { client, served } = await connectAlternating(token);

    assert.ok((await client.listTools()).tools.some((tool) => tool.name === 'whoami'));
    const me = await client.callTool({ name: 'whoami', arguments: {} }) as Structured<{ subject: string }>;
    assert.equal(me.structuredContent?.subject, alice);
    const lastCall = () => served.findLast((entry) => entry.request === 'POST tools/call')!.replica;
    const created = await client.callTool({ name: 'create_note', arguments: { title: 'Written on one', body: 'read on the other' } }) as Structured<{ id: string }>;
    const writtenOn = lastCall();
    const note = await client.callTool({ name: 'get_note', arguments: { id: created.structuredContent!.id } }) as Structured<{ body: string }>;
    assert.equal(note.structuredContent?.body, 'read on the other');
    assert.notEqual(lastCall(), writtenOn, 'written on one replica, read on the other');
    const listed = await client.callTool({ name: 'list_notes', arguments: {} }) as Structured<{ notes: Array<{ title: string }> }>;
    assert.deepEqual(listed.structuredContent?.notes.map((n) => n.title), ['Written on one']);

    for (const replica of [a, b]) {
      const calls = served.filter((entry) => entry.replica === replica.baseUrl && entry.inSession && entry.request === 'POST tools/call');
      assert.ok(calls.length >= 1, `${replica.baseUrl} served tool calls inside the session: ${JSON.stringify(served)}`);
    }
  });

  test('refuses another user\'s token with the session id on every replica (404), and the owner continues', async () => {
    const owner = randomUUID();
    const token = await issuer.mint({ claims: { sub: owner } });
    const { client, transport } = await connectAlternating(token);
    const intruder = await issuer.mint({ claims: { sub: randomUUID() } });
    // a and b hold the session in memory; c would have to rebuild it from the database.
    for (const replica of [a, b, c]) {
      const answer = await callOn(replica, transport.sessionId!, intruder, 'whoami');
      assert.equal(answer.status, 404, `on ${replica.baseUrl}`);
    }
    assert.ok((await client.listTools()).tools.length > 0);
    const onC = await callOn(c, transport.sessionId!, token, 'whoami');
    assert.equal((onC.message?.result?.structuredContent as { subject: string }).subject, owner);
  });

  test('a DELETE on one replica ends the session on the other too', async () => {
    const token = await issuer.mint({ claims: { sub: randomUUID() } });
    const { transport } = await connectAlternating(token);
    const sessionId = transport.sessionId!;
    // Both replicas hold it in memory now (the client's requests alternated).
    assert.equal((await callOn(a, sessionId, token, 'whoami')).status, 200);
    assert.equal((await callOn(b, sessionId, token, 'whoami')).status, 200);
    const deleted = await mcpRequest(b.mcpUrl, { method: 'DELETE', token, headers: { 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-11-25' } });
    assert.equal(deleted.status, 200);
    assert.equal((await callOn(a, sessionId, token, 'whoami')).status, 404);
    assert.equal((await callOn(b, sessionId, token, 'whoami')).status, 404);
  });

  test('recent_activity on one replica shows the calls made on the other', async () => {
    const admin = randomUUID();
    const token = await issuer.mint({ claims: { sub: admin, scope: 'mcp:read mcp:admin' } });
    const { transport } = await connectAlternating(token);
    const call = await callOn(a, transport.sessionId!, token, 'whoami');
    assert.equal(call.status, 200);
    // Replica A commits its batch two turns of its event loop after answering; B reads the table.
    await waitFor('the call made on replica A in replica B\'s recent_activity', async () => {
      const activity = await callOn(b, transport.sessionId!, token, 'recent_activity', { limit: 50 });
      const calls = (activity.message?.result?.structuredContent as { calls: Array<{ subject: string; tool: string }> } | undefined)?.calls ?? [];
      return calls.some((entry) => entry.subject === admin && entry.tool === 'whoami');
    });
  });

  test('a session survives the replica that opened it going away', async () => {
    const token = await issuer.mint({ claims: { sub: randomUUID() } });
    const d = await startResourceServer({ issuer: issuer.issuer, databaseUrl: a.config.database.postgres!.url });
    const opened = await mcpRequest(d.mcpUrl, { token });
    const sessionId = opened.headers.get('mcp-session-id')!;
    await opened.text();
    await d.close();
    const answer = await callOn(b, sessionId, token, 'whoami');
    assert.equal(answer.status, 200);
    assert.ok(answer.message?.result, JSON.stringify(answer.message));
  });
});

describe('MCP session limits across replicas (postgres)', { skip: !TEST_BACKENDS.includes('postgres') && 'needs PostgreSQL' }, () => {
  let clock: TestClock;
  let issuer: TestIssuer;
  let a: RunningResourceServer;
  let b: RunningResourceServer;

  before(async () => {
    clock = new TestClock();
    issuer = await startTestIssuer();
    const databaseUrl = await createTestPostgresDatabase();
    // The revocation copy's age is on the same clock: a long max_staleness keeps it current.
    const config = { sessionIdleTtl: 60, revocation: { feedUri: `${issuer.issuer}/oauth/revocations`, pollInterval: 0.2, maxStaleness: 3600 } };
    a = await startResourceServer({ issuer: issuer.issuer, databaseUrl, clock, maxSessionsPerUser: 2, config });
    b = await startResourceServer({ issuer: issuer.issuer, databaseUrl, clock, maxSessionsPerUser: 2, config });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await issuer?.close();
  });

  async function open(replica: RunningResourceServer, token: string): Promise<string> {
    const response = await mcpRequest(replica.mcpUrl, { token });
    assert.equal(response.status, 200);
    await response.text();
    return response.headers.get('mcp-session-id')!;
  }

  test('idle time counts from the last request on any replica', async () => {
    const token = await issuer.mint({ claims: { sub: randomUUID() } });
    const sessionId = await open(a, token);
    clock.advance(59);
    assert.equal((await callOn(b, sessionId, token, 'whoami')).status, 200);
    clock.advance(59);
    assert.equal((await callOn(a, sessionId, token, 'whoami')).status, 200, 'used on b 59 s ago, though idle on a for 118 s');
    clock.advance(60);
    assert.equal((await callOn(b, sessionId, token, 'whoami')).status, 404);
    assert.equal((await callOn(a, sessionId, token, 'whoami')).status, 404);
  });

  test('a user\'s sessions opened on different replicas count against one limit', async () => {
    const token = await issuer.mint({ claims: { sub: randomUUID() } });
    const first = await open(a, token);
    const second = await open(b, token);
    const third = await open(a, token);
    assert.equal((await callOn(a, first, token, 'whoami')).status, 404, 'the oldest is gone on the replica that opened it');
    assert.equal((await callOn(b, first, token, 'whoami')).status, 404);
    for (const replica of [a, b]) {
      for (const sessionId of [second, third]) assert.equal((await callOn(replica, sessionId, token, 'whoami')).status, 200);
    }
  });
});

describe('an HTTP server behind gateway replicas (postgres)', { skip: !TEST_BACKENDS.includes('postgres') && 'needs PostgreSQL', timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let recording: RecordingUpstream;
  const replicas: RunningResourceServer[] = [];
  let client: Client | undefined;

  before(async () => {
    issuer = await startTestIssuer();
    recording = await startRecordingUpstream();
    const databaseUrl = await createTestPostgresDatabase();
    for (let i = 0; i < 2; i += 1) {
      const replica = await startResourceServer({ issuer: issuer.issuer, databaseUrl, config: { servers: [httpServer('rec', recording.url)] } });
      replicas.push(replica);
      await waitForServers(replica.baseUrl, { rec: 'ready' });
    }
  });
  after(async () => {
    await client?.close().catch(() => {});
    for (const replica of replicas) await replica.close();
    await recording?.close();
    await issuer?.close();
  });

  test('each replica opens its own upstream session when the client\'s session first reaches it, and keeps using it', async () => {
    const token = await issuer.mint({ claims: { scope: 'mcp:read mcp:write' } });
    const { fetch, served } = roundRobin(replicas);
    client = new Client({ name: 'gatehouse-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(replicas[0]!.mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } }, fetch }));
    const upstreamSessions = new Map<string, Set<string>>();
    for (let i = 0; i < 6; i += 1) {
      const result = await client.callTool({ name: 'rec__echo', arguments: { text: `call ${i}` } }) as Structured<{ text: string; session: string }>;
      assert.equal(result.structuredContent?.text, `call ${i}`);
      const { replica } = served.findLast((entry) => entry.request === 'POST tools/call')!;
      upstreamSessions.set(replica, (upstreamSessions.get(replica) ?? new Set()).add(result.structuredContent!.session));
    }
    assert.equal(upstreamSessions.size, 2, 'both replicas served calls');
    for (const [replica, sessions] of upstreamSessions) assert.equal(sessions.size, 1, `${replica} kept one upstream session`);
    const [first, second] = [...upstreamSessions.values()].map((sessions) => [...sessions][0]);
    assert.notEqual(first, second);
  });
});
