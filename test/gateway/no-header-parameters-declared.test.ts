/**
 * MCP 2026-07-28 (Streamable HTTP §Custom Headers from Tool Parameters): a tool whose input schema
 * annotates a parameter with `x-mcp-header` makes clients mirror it into an `Mcp-Param-*` header,
 * and the server that reads the body MUST check the two agree (an intermediary may have routed on
 * the header). The gateway reads the body and calls the upstream over its own session, where no
 * such header travels, so nobody checked: a header naming one region and a body running in
 * another was served. The gateway now lists upstream tools without those annotations.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { waitForServers } from './support/gateway-client.ts';
import { stdioServer } from './support/upstreams.ts';

const REGIONAL = fileURLToPath(new URL('./fixtures/regional-server.mjs', import.meta.url));
const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'ExampleClient', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

interface ListedTool { name: string; inputSchema: { properties: Record<string, Record<string, unknown>> } }

describe('the gateway declares no header parameters it does not check', { timeout: 30_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let token: string;

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer, config: { servers: [stdioServer('regional', REGIONAL)] } });
    await waitForServers(server.baseUrl, { regional: 'ready' });
    token = await issuer.mint({ claims: { scope: 'mcp:read' } });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  async function call(method: string, params: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
    const response = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
        'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': method, ...headers,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: META } }),
    });
    const text = await response.text();
    assert.equal(response.status, 200, `${method}: ${text.slice(0, 300)}`);
    return (JSON.parse(text) as { result: Record<string, unknown> }).result;
  }

  test('the upstream tool is listed without x-mcp-header, so a 2026 client mirrors nothing', async () => {
    const { tools } = await call('tools/list', {}) as { tools: ListedTool[] };
    const tool = tools.find((t) => t.name === 'regional__execute_sql');
    assert.ok(tool, 'regional__execute_sql is listed');
    assert.doesNotMatch(JSON.stringify(tool.inputSchema.properties.region), /x-mcp-header/, 'region carries no header annotation');
    assert.deepEqual(Object.keys(tool.inputSchema.properties), ['region', 'query', 'x-mcp-header'], 'every parameter is still there');
    assert.equal(tool.inputSchema.properties['x-mcp-header']?.type, 'string', 'a parameter called x-mcp-header keeps its schema');
  });

  test('the call still reaches the upstream with its arguments', async () => {
    const result = await call('tools/call', { name: 'regional__execute_sql', arguments: { region: 'eu-north1', query: 'SELECT 1' } }, { 'Mcp-Name': 'regional__execute_sql' });
    assert.deepEqual(result.content, [{ type: 'text', text: 'ran in eu-north1' }]);
  });
});
