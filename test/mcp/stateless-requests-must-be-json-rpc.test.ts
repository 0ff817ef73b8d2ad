/**
 * A 2026-07-28 (stateless) POST whose body is not a JSON-RPC 2.0 request (`jsonrpc`
 * missing or not "2.0") must not be run (JSON-RPC 2.0 §4: jsonrpc "MUST be exactly 2.0"; §5.1
 * -32600 Invalid Request; MCP basic/index: all messages MUST follow JSON-RPC 2.0). The
 * session-based path (the SDK) answers such a body 400; the stateless path runs it.
 *
 * Nor one the SDK's JSON-RPC schema cannot read (a fractional id, a `_meta.progressToken` that is
 * not a string or an integer): its server drops such a message as an "unknown message type" and
 * never answers it, so the request hung until the client gave up.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useIssuerAndServer } from '../helpers/start-resource-server.ts';

const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };

describe('stateless requests that are not JSON-RPC 2.0', () => {
  const running = useIssuerAndServer();

  for (const [name, envelope] of [['jsonrpc "1.0"', { jsonrpc: '1.0' }], ['no jsonrpc member', {}]] as const) {
    test(`${name}: refused with -32600, not run`, async () => {
      const response = await fetch(running.server.mcpUrl, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${await running.issuer.mint()}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
          'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/list',
        },
        body: JSON.stringify({ ...envelope, id: 1, method: 'tools/list', params: { _meta: META } }),
      });
      const text = await response.text();
      assert.equal(response.status, 400, `got ${response.status} ${text.slice(0, 200)}`);
      assert.equal((JSON.parse(text) as { error?: { code?: number } }).error?.code, -32600, text.slice(0, 200));
    });
  }

  const unreadable: Array<[name: string, body: string, code: number]> = [
    ['a fractional id', `{"jsonrpc":"2.0","id":1.5,"method":"tools/list","params":{"_meta":${JSON.stringify(META)}}}`, -32600],
    ['an id of 1e400 (Infinity)', `{"jsonrpc":"2.0","id":1e400,"method":"tools/list","params":{"_meta":${JSON.stringify(META)}}}`, -32600],
    ['a progressToken that is an object', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { ...META, progressToken: {} } } }), -32602],
    ['a fractional progressToken', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { ...META, progressToken: 0.5 } } }), -32602],
    ['a related-task that is a string', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { ...META, 'io.modelcontextprotocol/related-task': 'x' } } }), -32602],
  ];
  for (const [name, body, code] of unreadable) {
    test(`${name}: answered 400 with ${code}, not left unanswered`, async () => {
      const response = await fetch(running.server.mcpUrl, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${await running.issuer.mint()}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
          'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/list',
        },
        body,
        // Without an answer the request would wait for ever; the server answers in milliseconds.
        signal: AbortSignal.timeout(5000),
      });
      const text = await response.text();
      assert.equal(response.status, 400, `got ${response.status} ${text.slice(0, 200)}`);
      assert.equal((JSON.parse(text) as { error?: { code?: number } }).error?.code, code, text.slice(0, 200));
    });
  }

  test('a request with an integer id and a string progressToken is still answered', async () => {
    const response = await fetch(running.server.mcpUrl, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${await running.issuer.mint()}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
        'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/list',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: { _meta: { ...META, progressToken: 'p' } } }),
      signal: AbortSignal.timeout(5000),
    });
    const body = await response.json() as { id?: unknown; result?: { tools?: unknown[] } };
    assert.equal(response.status, 200);
    assert.equal(body.id, 7);
    assert.ok(Array.isArray(body.result?.tools));
  });
});
