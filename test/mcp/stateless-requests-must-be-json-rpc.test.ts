/**
 * A 2026-07-28 (stateless) POST whose body is not a JSON-RPC 2.0 request (`jsonrpc`
 * missing or not "2.0") must not be run (JSON-RPC 2.0 §4: jsonrpc "MUST be exactly 2.0"; §5.1
 * -32600 Invalid Request; MCP basic/index: all messages MUST follow JSON-RPC 2.0). The
 * session-based path (the SDK) answers such a body 400; the stateless path runs it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';

const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };

describe('stateless requests that are not JSON-RPC 2.0', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  for (const [name, envelope] of [['jsonrpc "1.0"', { jsonrpc: '1.0' }], ['no jsonrpc member', {}]] as const) {
    test(`${name}: refused with -32600, not run`, async () => {
      const response = await fetch(server.mcpUrl, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${await issuer.mint()}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
          'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/list',
        },
        body: JSON.stringify({ ...envelope, id: 1, method: 'tools/list', params: { _meta: META } }),
      });
      const text = await response.text();
      assert.equal(response.status, 400, `got ${response.status} ${text.slice(0, 200)}`);
      assert.equal((JSON.parse(text) as { error?: { code?: number } }).error?.code, -32600, text.slice(0, 200));
    });
  }
});
