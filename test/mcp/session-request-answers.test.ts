/**
 * The answers to requests in an established MCP session, as a client sees them on the wire: a plain
 * request is answered by Gatehouse on the Node response (apps/resource-server/src/mcp/
 * answer-session-request.ts) and everything else by the SDK's own transport. Each row is a request
 * a client (or an attacker) can send; the status, headers and JSON-RPC answer are the SDK's in
 * every case, checked against the values the SDK's transport alone gave before that path existed,
 * except for a body that is not JSON-RPC and a batch (the session negotiated 2025-11-25, which has
 * none), which serve-mcp-request.ts answers -32600 before the SDK.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { INITIALIZE, jsonRpcMessageOf, mcpRequest } from '../helpers/mcp-http.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { waitForServers } from '../gateway/support/gateway-client.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../gateway/support/recording-upstream.ts';
import { httpServer } from '../gateway/support/upstreams.ts';

const WHOAMI = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'whoami', arguments: {} } };

interface Row {
  name: string;
  headers?: Record<string, string>;
  body?: unknown;
  status: number;
  /** What the answer holds: the whoami result, a JSON-RPC error code, or nothing (202). */
  answer: 'whoami' | number | 'none';
}

const rows: Row[] = [
  { name: 'a tools/call', status: 200, answer: 'whoami' },
  { name: 'a tools/call with a charset', headers: { 'Content-Type': 'application/json; charset=utf-8' }, status: 200, answer: 'whoami' },
  { name: 'a tools/call with the protocol version header', headers: { 'MCP-Protocol-Version': '2025-06-18' }, status: 200, answer: 'whoami' },
  // MCP 2025-06-18 removed batching: a 2025-11-25 session gets none (serve-mcp-request.ts); the SDK alone served it.
  { name: 'a batch of one tools/call', body: [WHOAMI], status: 400, answer: -32600 },
  { name: 'an Accept without the event stream', headers: { Accept: 'application/json' }, status: 406, answer: -32000 },
  { name: 'an Accept without JSON', headers: { Accept: 'text/event-stream' }, status: 406, answer: -32000 },
  { name: 'a Content-Type that is not JSON', headers: { 'Content-Type': 'text/plain' }, status: 415, answer: -32000 },
  { name: 'a Content-Type that only mentions JSON', headers: { 'Content-Type': 'text/plain; a=application/json' }, status: 415, answer: -32000 },
  { name: 'an unsupported protocol version', headers: { 'MCP-Protocol-Version': '1999-01-01' }, status: 400, answer: -32000 },
  { name: 'an unknown method', body: { jsonrpc: '2.0', id: 8, method: 'no/such-method' }, status: 200, answer: -32601 },
  { name: 'initialize again', body: { ...INITIALIZE, id: 9 }, status: 400, answer: -32600 },
  // Not JSON-RPC: -32600 (serve-mcp-request.ts); the SDK alone said -32700 Parse error.
  { name: 'a request without jsonrpc 2.0', body: { jsonrpc: '1.0', id: 10, method: 'tools/list' }, status: 400, answer: -32600 },
  { name: 'a request with a null id', body: { jsonrpc: '2.0', id: null, method: 'tools/list' }, status: 400, answer: -32600 },
  { name: 'a notification', body: { jsonrpc: '2.0', method: 'notifications/roots/list_changed' }, status: 202, answer: 'none' },
  { name: 'a response', body: { jsonrpc: '2.0', id: 'from-client', result: {} }, status: 202, answer: 'none' },
];

describe('requests in an established MCP session', () => {
  let issuer: TestIssuer;
  let upstream: RecordingUpstream;
  let server: RunningResourceServer;
  let token: string;
  let sessionId: string;

  before(async () => {
    issuer = await startTestIssuer();
    upstream = await startRecordingUpstream();
    // A gateway server whose `wait-for-cancel` tool keeps a call in flight.
    server = await startResourceServer({ issuer: issuer.issuer, config: { servers: [httpServer('slow', upstream.url)] } });
    await waitForServers(server.baseUrl, { slow: 'ready' });
    token = await issuer.mint({ claims: { sub: randomUUID(), preferred_username: 'alice', scope: 'mcp:read mcp:write' } });
    const opened = await mcpRequest(server.mcpUrl, { token, body: INITIALIZE });
    assert.equal(opened.status, 200);
    await opened.text();
    sessionId = opened.headers.get('mcp-session-id')!;
    const initialized = await mcpRequest(server.mcpUrl, { token, headers: { 'Mcp-Session-Id': sessionId }, body: { jsonrpc: '2.0', method: 'notifications/initialized' } });
    assert.equal(initialized.status, 202);
  });
  after(async () => {
    await server?.close();
    await upstream?.close();
    await issuer?.close();
  });
  const upstreamCalls = () => upstream.requests.flatMap((request) => request.rpcMethods).filter((method) => method === 'tools/call').length;

  for (const row of rows) {
    test(`${row.name}: ${row.status}`, async () => {
      const response = await mcpRequest(server.mcpUrl, { token, headers: { 'Mcp-Session-Id': sessionId, ...row.headers }, body: row.body ?? WHOAMI });
      const text = await response.text();
      assert.equal(response.status, row.status, text);
      if (row.answer === 'none') {
        assert.equal(text, '');
        return;
      }
      const message = jsonRpcMessageOf(text);
      if (row.answer === 'whoami') {
        assert.equal(response.headers.get('content-type'), 'text/event-stream');
        assert.equal(response.headers.get('cache-control'), 'no-cache, no-transform');
        assert.equal(response.headers.get('x-accel-buffering'), 'no');
        assert.equal(response.headers.get('mcp-session-id'), sessionId);
        assert.match(text, /^event: message\ndata: \{.*\}\n\n$/s, 'one SSE message event, as the SDK frames it');
        const content = (message.result as { structuredContent?: { username?: string } }).structuredContent;
        assert.equal(content?.username, 'alice');
      } else {
        assert.equal(message.error?.code, row.answer, text);
      }
    });
  }

  test('a session id of no session is 404 and a session id of another user is 404', async () => {
    const unknown = await mcpRequest(server.mcpUrl, { token, headers: { 'Mcp-Session-Id': randomUUID() }, body: WHOAMI });
    assert.equal(unknown.status, 404);
    const bob = await issuer.mint({ claims: { sub: randomUUID(), preferred_username: 'bob', scope: 'mcp:read' } });
    const other = await mcpRequest(server.mcpUrl, { token: bob, headers: { 'Mcp-Session-Id': sessionId }, body: WHOAMI });
    assert.equal(other.status, 404);
  });

  test('calls in flight together each get their own answer on their own stream', async () => {
    const ids = Array.from({ length: 20 }, (_, index) => 100 + index);
    const answers = await Promise.all(ids.map(async (id) => {
      const response = await mcpRequest(server.mcpUrl, { token, headers: { 'Mcp-Session-Id': sessionId }, body: { ...WHOAMI, id } });
      return jsonRpcMessageOf(await response.text());
    }));
    assert.deepEqual(answers.map((answer) => answer.id), ids);
  });

  test('a client that goes away before its answer leaves the session working', async () => {
    const callsBefore = upstreamCalls();
    const aborted = new AbortController();
    const gone = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: { Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'Mcp-Session-Id': sessionId },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'gone', method: 'tools/call', params: { name: 'slow__wait-for-cancel', arguments: {} } }),
      signal: aborted.signal,
    });
    // The head came (answer-session-request.ts flushes it) and the call reached the tool: in flight.
    assert.equal(gone.status, 200);
    await waitFor('the tool call to reach the upstream', () => upstreamCalls() === callsBefore + 1);
    aborted.abort();
    await gone.text().catch(() => undefined);

    // While its stream is open the id is refused, 400 (requestIdInProgress); once the server saw
    // the client go away the id is free again, in a session that still answers.
    const reused = await waitFor('the server to see the client go away', async () => {
      const response = await mcpRequest(server.mcpUrl, { token, headers: { 'Mcp-Session-Id': sessionId }, body: { ...WHOAMI, id: 'gone' } });
      const text = await response.text();
      return response.status === 400 ? undefined : { status: response.status, text };
    });
    assert.equal(reused.status, 200, reused.text);
    assert.equal(jsonRpcMessageOf(reused.text).id, 'gone');
    const next = await mcpRequest(server.mcpUrl, { token, headers: { 'Mcp-Session-Id': sessionId }, body: { ...WHOAMI, id: 'next' } });
    assert.equal(next.status, 200);
    assert.equal(jsonRpcMessageOf(await next.text()).id, 'next');
  });
});
