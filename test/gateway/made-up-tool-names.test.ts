/**
 * Tool names a caller makes up cannot grow the server's memory or its metrics without bound.
 * Every name of the form `<server>__<anything>` is routed to that server by reading the name, and
 * each call to one (refused for want of scope, or forwarded and failed) became a series of
 * gatehouse_mcp_tool_calls_total{tool=<the name>} kept for the process's life: one caller with any
 * token could add some 1,800 series per POST (a batch of tools/call). The metric now names only
 * tools a server listed or the config names, the rest as `(unlisted)`; the audit keeps each name.
 * A batch of more than 100 messages (the MCP SDK transport's own limit) is refused before the
 * scope check records anything. Real resource server, real stdio MCP server behind it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createMetricsRegistry, type Registry } from '../../apps/shared/metrics.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { connectAs, rpc, waitForServers } from './support/gateway-client.ts';
import { SCRIPTED, stdioServer } from './support/upstreams.ts';

const HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

describe('tool names a caller makes up', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let registry: Registry;

  before(async () => {
    issuer = await startTestIssuer();
    registry = createMetricsRegistry('resource-server');
    server = await startResourceServer({
      issuer: issuer.issuer,
      registry,
      config: { servers: [stdioServer('scripted', SCRIPTED, [], { scopes: { default: 'mcp:write', tools: { described: 'mcp:read' } } })] },
    });
    await waitForServers(server.baseUrl, { scripted: 'ready' });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  async function series(): Promise<Array<{ tool: string; outcome: string; value: number }>> {
    const metric = await registry.getSingleMetric('gatehouse_mcp_tool_calls_total')!.get();
    return metric.values.map((v) => ({ tool: String(v.labels.tool), outcome: String(v.labels.outcome), value: v.value }));
  }

  const madeUp = () => `scripted__${randomUUID()}`;
  const token = (scope: string) => issuer.mint({ claims: { sub: randomUUID(), client_id: 'c', scope } });

  test('a tool the config names counts under its name before any list', async () => {
    const reader = await token('');
    const response = await fetch(server.mcpUrl, { method: 'POST', headers: { ...HEADERS, Authorization: `Bearer ${reader}` }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'scripted__described' } }) });
    assert.equal(response.status, 403);
    await response.text();
    assert.ok((await series()).some((s) => s.tool === 'scripted__described' && s.outcome === 'denied'));
  });

  test('refused calls to 20 made-up names count in one series; the audit keeps each name', async () => {
    const reader = await token('mcp:read');
    const names = Array.from({ length: 20 }, madeUp);
    for (const name of names) {
      const response = await fetch(server.mcpUrl, { method: 'POST', headers: { ...HEADERS, Authorization: `Bearer ${reader}` }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name } }) });
      assert.equal(response.status, 403);
      await response.text();
    }
    const denied = (await series()).filter((s) => s.outcome === 'denied' && s.tool !== 'scripted__described');
    assert.deepEqual(denied, [{ tool: '(unlisted)', outcome: 'denied', value: 20 }]);
    await server.audit.flush();
    const rows = await server.db.all<{ tool: string }>("SELECT tool FROM tool_calls WHERE outcome = 'denied' AND tool <> 'scripted__described'");
    assert.deepEqual(rows.map((row) => row.tool).sort(), [...names].sort());
  });

  test('forwarded calls to made-up names fail upstream and count as (unlisted) too; a listed tool keeps its name', async () => {
    const writer = await token('mcp:read mcp:write');
    const { client, transport } = await connectAs(server.mcpUrl, writer);
    try {
      const listed = await client.listTools();
      assert.ok(listed.tools.some((tool) => tool.name === 'scripted__add-tool'));
      for (let i = 0; i < 5; i += 1) {
        const response = await rpc(server.mcpUrl, writer, transport.sessionId, 'tools/call', { name: madeUp(), arguments: {} });
        await response.text();
      }
      await client.callTool({ name: 'scripted__add-tool', arguments: {} });
    } finally {
      await client.close();
    }
    const tools = new Set((await series()).map((s) => s.tool));
    assert.deepEqual([...tools].sort(), ['(unlisted)', 'scripted__add-tool', 'scripted__described']);
    assert.ok((await series()).some((s) => s.tool === '(unlisted)' && s.outcome === 'error' && s.value === 5));
  });

  test('a batch of more than 100 messages is refused before anything is recorded; 100 get through to the session check', async () => {
    const reader = await token('mcp:read');
    await server.audit.flush();
    const before = Number((await server.db.get<{ n: number }>('SELECT count(*) AS n FROM tool_calls'))?.n);
    const batch = (n: number) => JSON.stringify(Array.from({ length: n }, (_, id) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: madeUp() } })));
    const refused = await fetch(server.mcpUrl, { method: 'POST', headers: { ...HEADERS, Authorization: `Bearer ${reader}` }, body: batch(101) });
    assert.equal(refused.status, 400);
    assert.deepEqual(await refused.json(), { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request: Batch must not exceed 100 messages' }, id: null });
    await server.audit.flush();
    assert.equal(Number((await server.db.get<{ n: number }>('SELECT count(*) AS n FROM tool_calls'))?.n), before, 'nothing recorded');
    const hundred = await fetch(server.mcpUrl, { method: 'POST', headers: { ...HEADERS, Authorization: `Bearer ${reader}` }, body: batch(100) });
    assert.equal(hundred.status, 403, 'within the limit, the scope check answers as before');
    await hundred.text();
  });
});
