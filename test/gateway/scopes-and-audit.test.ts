/**
 * Per-call authorization at the gateway (issue 12, behaviour 2): a tool needs its scope from the
 * server's per-tool map, else the server's default; prompts and resources need the default.
 * Without it, `tools/call`, `prompts/get` and `resources/read` get the HTTP 403
 * `insufficient_scope` challenge the built-in tools give, and the call never reaches the server.
 * tools/list shows every tool whatever the scopes. Every call is a row in the audit table (tool,
 * server, outcome, duration) and counted in the metrics by server, tool and outcome.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPError, type StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createMetricsRegistry, type Registry } from '../../apps/shared/metrics.ts';
import { parseChallenge } from '../helpers/mcp-http.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { connectAs, errorText, resultText, rpc, waitForServers } from './support/gateway-client.ts';
import { COLLIDING_URI, EVERYTHING, SCRIPTED, stdioServer } from './support/upstreams.ts';

interface ToolCallRow {
  subject: string;
  username: string | null;
  client_id: string;
  tool: string;
  server: string | null;
  outcome: string;
  duration_ms: number | null;
}

describe('per-call scopes, the 403 step-up challenge, audit and metrics for the servers\' tools', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let registry: Registry;
  const clients: Client[] = [];
  const alice = { sub: randomUUID(), preferred_username: 'alice', client_id: 'claude-desktop' };

  before(async () => {
    issuer = await startTestIssuer();
    registry = createMetricsRegistry('resource-server');
    server = await startResourceServer({
      issuer: issuer.issuer,
      registry,
      config: {
        servers: [
          // Configuration order: everything owns COLLIDING_URI here (mcp:read), not scripted (mcp:write).
          stdioServer('everything', EVERYTHING, ['stdio'], { scopes: { default: 'mcp:read', tools: { 'get-sum': 'mcp:write', 'get-env': 'mcp:admin' } } }),
          stdioServer('scripted', SCRIPTED, [], { scopes: { default: 'mcp:write', tools: { 'echo-meta': 'mcp:read' } } }),
        ],
      },
    });
    await waitForServers(server.baseUrl, { everything: 'ready', scripted: 'ready' });
  });
  after(async () => {
    for (const client of clients) await client.close();
    await server?.close();
    await issuer?.close();
  });

  async function connect(scope: string, claims: Record<string, unknown> = alice): Promise<{ client: Client; token: string; sessionId: string }> {
    const token = await issuer.mint({ claims: { ...claims, scope } });
    const { client, transport } = await connectAs(server.mcpUrl, token);
    clients.push(client);
    return { client, token, sessionId: (transport as StreamableHTTPClientTransport).sessionId! };
  }

  /** The audit rows of `tool`, once the batch still gathering (AuditStore) is written. */
  async function rows(tool: string): Promise<ToolCallRow[]> {
    await server.audit.flush();
    return server.db.all<ToolCallRow>('SELECT * FROM tool_calls WHERE tool = ? ORDER BY id', [tool]);
  }

  async function counted(labels: Record<string, string>): Promise<number> {
    const metric = await registry.getSingleMetric('gatehouse_mcp_tool_calls_total')?.get();
    assert.ok(metric, 'the tool-call counter exists');
    return metric.values
      .filter((value) => Object.entries(labels).every(([name, wanted]) => String(value.labels[name]) === wanted))
      .reduce((sum, value) => sum + value.value, 0);
  }

  test('tools/list shows every server tool to a read-only token, whatever scope the tool needs', { timeout: 15_000 }, async () => {
    const { client } = await connect('mcp:read');
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    for (const name of ['everything__echo', 'everything__get-sum', 'everything__get-env', 'scripted__echo-meta', 'scripted__described']) {
      assert.ok(names.includes(name), `${name} listed`);
    }
  });

  test('a resource read before any list (the owner not yet known) is still refused without the scope, and nothing is read', { timeout: 15_000 }, async () => {
    const { token, sessionId } = await connect('mcp:read');
    const response = await rpc(server.mcpUrl, token, sessionId, 'resources/read', { uri: 'scripted://note/1' });
    const body = await response.text();
    assert.ok(response.status === 403 || /needs the mcp:write scope/.test(body), `refused: ${response.status} ${body}`);
    assert.doesNotMatch(body, /note 1/, 'the server was not asked');
  });

  // [token scope, method, params, the scope the challenge must ask for, what its description names]
  const refusals: Array<[string, string, Record<string, unknown>, string, RegExp]> = [
    ['mcp:read', 'tools/call', { name: 'everything__get-sum', arguments: { a: 1, b: 2 } }, 'mcp:read mcp:write', /everything__get-sum/],
    ['mcp:read mcp:write', 'tools/call', { name: 'everything__get-env', arguments: {} }, 'mcp:read mcp:write mcp:admin', /everything__get-env/],
    ['mcp:read', 'tools/call', { name: 'scripted__described', arguments: { city: 'Faro' } }, 'mcp:read mcp:write', /scripted__described/],
    ['mcp:write', 'tools/call', { name: 'everything__echo', arguments: { message: 'x' } }, 'mcp:read mcp:write', /everything__echo/],
    ['mcp:write', 'tools/call', { name: 'scripted__echo-meta', arguments: {} }, 'mcp:read mcp:write', /scripted__echo-meta/],
    ['mcp:read', 'prompts/get', { name: 'scripted__greet', arguments: { who: 'x' } }, 'mcp:read mcp:write', /scripted__greet/],
    ['mcp:write', 'prompts/get', { name: 'everything__simple-prompt' }, 'mcp:read mcp:write', /everything__simple-prompt/],
    ['mcp:read', 'resources/read', { uri: 'scripted://note/1' }, 'mcp:read mcp:write', /scripted/],
    ['mcp:write', 'resources/read', { uri: COLLIDING_URI }, 'mcp:read mcp:write', /everything|features\.md/],
  ];
  for (const [scope, method, params, wanted, names] of refusals) {
    test(`${method} ${JSON.stringify(params.name ?? params.uri)} with "${scope}" gets 403 insufficient_scope asking for "${wanted}"`, { timeout: 15_000 }, async () => {
      const { client, token, sessionId } = await connect(scope);
      // As a client does: it calls what it saw listed.
      await Promise.all([client.listTools(), client.listPrompts(), client.listResources(), client.listResourceTemplates()]);
      const response = await rpc(server.mcpUrl, token, sessionId, method, params);
      assert.equal(response.status, 403);
      const challenge = parseChallenge(response.headers.get('www-authenticate'));
      assert.equal(challenge.scheme, 'Bearer');
      assert.equal(challenge.params.error, 'insufficient_scope');
      assert.equal(challenge.params.scope, wanted);
      assert.match(challenge.params.resource_metadata ?? '', /\/\.well-known\/oauth-protected-resource\/mcp$/);
      assert.match(challenge.params.error_description ?? '', names);
      const body = await response.json() as { error: string };
      assert.equal(body.error, 'insufficient_scope');
    });
  }

  test('the SDK client sees the refusal as HTTP 403, and a stepped-up token makes the same call succeed', { timeout: 15_000 }, async () => {
    const { client } = await connect('mcp:read');
    await assert.rejects(
      client.callTool({ name: 'everything__get-sum', arguments: { a: 20, b: 22 } }),
      (err: unknown) => err instanceof StreamableHTTPError && err.code === 403,
    );
    const { client: stepped } = await connect('mcp:read mcp:write');
    assert.match(resultText(await stepped.callTool({ name: 'everything__get-sum', arguments: { a: 20, b: 22 } })), /is 42\./);
  });

  test('a resource in the colliding URI is governed by its owner\'s scope (the first server), not the other\'s', { timeout: 15_000 }, async () => {
    const { client } = await connect('mcp:read');
    const read = await client.readResource({ uri: COLLIDING_URI });
    assert.notEqual((read.contents[0] as { text: string }).text, 'the scripted server\'s copy', 'served by everything, the first in order');
  });

  test('a refused call never reaches the server, and is audited as denied', { timeout: 15_000 }, async () => {
    const before = (await rows('scripted__add-tool')).length;
    const { client, token, sessionId } = await connect('mcp:read');
    const response = await rpc(server.mcpUrl, token, sessionId, 'tools/call', { name: 'scripted__add-tool', arguments: {} });
    assert.equal(response.status, 403);
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    assert.ok(!names.some((name) => name.startsWith('scripted__added-')), 'add-tool did not run');
    const added = (await rows('scripted__add-tool')).slice(before);
    assert.equal(added.length, 1);
    assert.equal(added[0]!.outcome, 'denied');
    assert.equal(added[0]!.server, 'scripted');
    assert.equal(added[0]!.subject, alice.sub);
  });

  test('every call to a server is audited with who, server, tool, outcome and duration', { timeout: 15_000 }, async () => {
    const { client } = await connect('mcp:read mcp:write');
    resultText(await client.callTool({ name: 'everything__echo', arguments: { message: 'audit me' } }));
    // Arguments the server refuses: the server's own tool error, which is an error outcome.
    errorText(await client.callTool({ name: 'everything__get-sum', arguments: { a: 'one', b: 2 } }));
    const ok = (await rows('everything__echo')).at(-1)!;
    const { subject, username, client_id, tool, server: serverName, outcome } = ok;
    assert.deepEqual({ subject, username, client_id, tool, server: serverName, outcome }, {
      subject: alice.sub, username: 'alice', client_id: 'claude-desktop', tool: 'everything__echo', server: 'everything', outcome: 'ok',
    });
    assert.equal(typeof ok.duration_ms, 'number');
    assert.ok(ok.duration_ms! >= 0 && ok.duration_ms! < 10_000);
    const failed = (await rows('everything__get-sum')).at(-1)!;
    assert.equal(failed.outcome, 'error');
    assert.equal(failed.server, 'everything');
    const builtIn = (await rows('whoami')).length;
    resultText(await client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal((await rows('whoami')).length, builtIn + 1, 'built-in calls are still audited');
  });

  test('the metrics count calls by server, tool and outcome', { timeout: 15_000 }, async () => {
    const { client, token, sessionId } = await connect('mcp:read');
    const labels = { server: 'everything', tool: 'everything__echo' };
    const okBefore = await counted({ ...labels, outcome: 'ok' });
    const deniedBefore = await counted({ server: 'everything', tool: 'everything__get-sum', outcome: 'denied' });
    resultText(await client.callTool({ name: 'everything__echo', arguments: { message: 'count me' } }));
    resultText(await client.callTool({ name: 'everything__echo', arguments: { message: 'and me' } }));
    assert.equal((await rpc(server.mcpUrl, token, sessionId, 'tools/call', { name: 'everything__get-sum', arguments: { a: 1, b: 1 } })).status, 403);
    assert.equal(await counted({ ...labels, outcome: 'ok' }), okBefore + 2);
    assert.equal(await counted({ server: 'everything', tool: 'everything__get-sum', outcome: 'denied' }), deniedBefore + 1);
  });
});
