/**
 * An MCP request whose params have the wrong JSON types (a tool name that is a number, arguments
 * that are an array, a cursor that is an object) is the client's mistake: JSON-RPC 2.0 §5.1
 * -32602 Invalid params, on the session-based path and on the 2026-07-28 (stateless) one alike.
 * The MCP SDK 1.x parses params before a handler runs and answered such a request -32603
 * "Internal error", with zod's issue list as the message.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openSession } from '../helpers/mcp-http.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';

const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };

/** The one JSON-RPC message in a JSON answer or in an SSE stream's `data:` line. */
function messageOf(text: string): { id?: unknown; error?: { code?: number; message?: string } } {
  const data = /^data: (.*)$/m.exec(text);
  return JSON.parse(data ? data[1]! : text) as { error?: { code?: number; message?: string } };
}

const MALFORMED: Array<[what: string, method: string, params: Record<string, unknown>]> = [
  ['a tool name that is a number', 'tools/call', { name: 5, arguments: {} }],
  ['no tool name', 'tools/call', { arguments: {} }],
  ['tool arguments that are an array', 'tools/call', { name: 'whoami', arguments: [1] }],
  ['a tools/list cursor that is an object', 'tools/list', { cursor: {} }],
  ['a tools/list cursor that is a number', 'tools/list', { cursor: 5 }],
];

describe('MCP requests with params of the wrong type', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let token: string;
  let sessionId: string;

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer });
    token = await issuer.mint();
    sessionId = await openSession(server.mcpUrl, token);
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  /** One JSON-RPC message POSTed in the session; `stateless`: as a 2026-07-28 request instead. */
  function post(body: Record<string, unknown>, stateless?: { method: string; name?: string }): Promise<Response> {
    return fetch(server.mcpUrl, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
        ...(stateless
          ? { 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': stateless.method, ...(stateless.name ? { 'Mcp-Name': stateless.name } : {}) }
          : { 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-11-25' }),
      },
      body: JSON.stringify(body),
    });
  }

  for (const [what, method, params] of MALFORMED) {
    test(`in a session, ${what}: -32602 Invalid params`, async () => {
      const response = await post({ jsonrpc: '2.0', id: 3, method, params });
      const message = messageOf(await response.text());
      assert.equal(message.id, 3);
      assert.equal(message.error?.code, -32602, JSON.stringify(message));
      assert.match(message.error?.message ?? '', /Invalid /);
    });

    test(`stateless (2026-07-28), ${what}: -32602 Invalid params`, async () => {
      const response = await post({ jsonrpc: '2.0', id: 4, method, params: { ...params, _meta: META } }, { method, ...(typeof params.name === 'string' ? { name: params.name } : {}) });
      const message = messageOf(await response.text());
      assert.equal(message.id, 4);
      assert.equal(message.error?.code, -32602, JSON.stringify(message));
      assert.match(message.error?.message ?? '', /Invalid /);
    });
  }

  // MCP 2025-11-25 tasks §Task Support and Handling: a server that declared no task support
  // processes a task-augmented request normally. The SDK answered it -32603 Internal error.
  test('in a session, a task-augmented tools/call is served as a plain one', async () => {
    const response = await post({ jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'whoami', arguments: {}, task: { ttl: 60000 } } });
    const message = messageOf(await response.text()) as { result?: { content?: unknown[]; isError?: boolean }; error?: unknown };
    assert.equal(message.error, undefined, JSON.stringify(message));
    assert.ok(message.result?.content?.length, JSON.stringify(message));
  });

  test('stateless (2026-07-28), a task-augmented tools/call is served as a plain one', async () => {
    const response = await post({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'whoami', arguments: {}, task: {}, _meta: META } }, { method: 'tools/call', name: 'whoami' });
    const message = messageOf(await response.text()) as { result?: { content?: unknown[] }; error?: unknown };
    assert.equal(message.error, undefined, JSON.stringify(message));
    assert.ok(message.result?.content?.length, JSON.stringify(message));
  });

  test('well-formed params are still served', async () => {
    const response = await post({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
    const message = messageOf(await response.text()) as { result?: { isError?: boolean } };
    assert.equal(message.result?.isError, undefined, JSON.stringify(message));
  });
});
