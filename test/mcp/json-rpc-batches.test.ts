/**
 * JSON-RPC batches on the MCP endpoint follow the protocol version the session negotiated: MCP
 * 2025-06-18 removed batching (the POST body MUST be a single message), so a session of 2025-06-18
 * or 2025-11-25 is refused a batch with 400 -32600 and none of its messages runs, whatever
 * `MCP-Protocol-Version` header comes with it; a 2025-03-26 session, whose revision requires
 * servers to receive batches, is still served them. An `initialize` in a batch (never allowed:
 * 2025-03-26 lifecycle) opens no session. The MCP SDK 1.x served every batch in every session.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { INITIALIZE, jsonRpcMessageOf, mcpRequest } from '../helpers/mcp-http.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';

const initialize = (protocolVersion: string) => ({ ...INITIALIZE, params: { ...INITIALIZE.params, protocolVersion } });
const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

interface Row {
  name: string;
  /** The version the session negotiated. */
  negotiated: string;
  /** The MCP-Protocol-Version header sent with the batch; the negotiated one when absent. */
  header?: string;
  batch: (title: string) => unknown[];
}

const refused: Row[] = [
  { name: 'one tools/call in a 2025-11-25 session', negotiated: '2025-11-25', batch: (title) => [call(2, 'create_note', { title })] },
  { name: 'two tools/calls in a 2025-11-25 session', negotiated: '2025-11-25', batch: (title) => [call(2, 'create_note', { title }), call(3, 'whoami')] },
  { name: 'a call and a notification in a 2025-06-18 session', negotiated: '2025-06-18', batch: (title) => [call(2, 'create_note', { title }), { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 99 } }] },
  { name: 'a 2025-11-25 session claiming 2025-03-26 in its header', negotiated: '2025-11-25', header: '2025-03-26', batch: (title) => [call(2, 'create_note', { title })] },
];

describe('JSON-RPC batches on the MCP endpoint', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let token: string;

  /** A session initialized at `protocolVersion`: its id. */
  async function openSessionAt(protocolVersion: string): Promise<string> {
    const opened = await mcpRequest(server.mcpUrl, { token, body: initialize(protocolVersion) });
    assert.equal(jsonRpcMessageOf(await opened.text()).result?.protocolVersion, protocolVersion);
    const sessionId = opened.headers.get('mcp-session-id')!;
    const initialized = await mcpRequest(server.mcpUrl, { token, headers: { 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': protocolVersion }, body: { jsonrpc: '2.0', method: 'notifications/initialized' } });
    assert.equal(initialized.status, 202);
    return sessionId;
  }

  async function noteTitles(sessionId: string, protocolVersion: string): Promise<string[]> {
    const listed = await mcpRequest(server.mcpUrl, { token, headers: { 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': protocolVersion }, body: call(50, 'list_notes') });
    assert.equal(listed.status, 200);
    const result = jsonRpcMessageOf(await listed.text()).result as { structuredContent: { notes: Array<{ title: string }> } };
    return result.structuredContent.notes.map((note) => note.title);
  }

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer });
    token = await issuer.mint({ claims: { sub: randomUUID(), scope: 'mcp:read mcp:write' } });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  for (const row of refused) {
    test(`a batch of ${row.name}: 400 -32600, nothing in it runs, the session carries on`, async () => {
      const sessionId = await openSessionAt(row.negotiated);
      const title = randomUUID();
      const response = await mcpRequest(server.mcpUrl, { token, headers: { 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': row.header ?? row.negotiated }, body: row.batch(title) });
      const text = await response.text();
      assert.equal(response.status, 400, text);
      assert.deepEqual(JSON.parse(text), {
        jsonrpc: '2.0',
        error: { code: -32600, message: `Invalid Request: protocol version ${row.negotiated} has no JSON-RPC batches: send each message in a POST of its own` },
        id: null,
      });
      assert.ok(!(await noteTitles(sessionId, row.negotiated)).includes(title), 'the batch created no note');
    });
  }

  test('a batch in a 2025-03-26 session is served, each request answered', async () => {
    const sessionId = await openSessionAt('2025-03-26');
    const title = randomUUID();
    const response = await mcpRequest(server.mcpUrl, { token, headers: { 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-03-26' }, body: [call(2, 'create_note', { title }), call(3, 'whoami')] });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    const ids = text.split('\n').filter((line) => line.startsWith('data:')).map((line) => (JSON.parse(line.slice('data:'.length)) as { id: number }).id);
    assert.deepEqual(ids.sort(), [2, 3]);
    assert.ok((await noteTitles(sessionId, '2025-03-26')).includes(title));
  });

  for (const protocolVersion of ['2025-11-25', '2025-06-18', '2025-03-26']) {
    test(`an initialize for ${protocolVersion} in a batch: 400 -32600 and no session`, async () => {
      const response = await mcpRequest(server.mcpUrl, { token, body: [initialize(protocolVersion)] });
      const text = await response.text();
      assert.equal(response.status, 400, text);
      assert.equal(response.headers.get('mcp-session-id'), null);
      assert.deepEqual(JSON.parse(text), { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request: initialize must not be part of a JSON-RPC batch' }, id: null });
    });
  }
});
