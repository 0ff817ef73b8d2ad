/**
 * The 403 step-up challenge names the tool, prompt or resource a call asked for, and those names
 * come from an upstream MCP server's lists. An upstream that names one
 * `note://x", resource_metadata="https://evil.example/prm` must not add a parameter to the
 * challenge (the MCP SDK client starts its sign-in at the first `resource_metadata` it finds),
 * and one with CR LF or characters past Latin-1 must still get the 403, not a 500 from a header
 * node:http refuses. A real gateway in front of a real (hostile) stdio MCP server, driven over HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { challengeParams } from '../helpers/mcp-http.ts';
import { startTestIssuer, TEST_RESOURCE, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { connectAs, resultText, rpc, waitForServers } from './support/gateway-client.ts';
import { HOSTILE_NAMES, HOSTILE_NAMES_SERVER, stdioServer } from './support/upstreams.ts';

// The configured public URL's metadata (RFC 9728 §3.1: path-inserted), whatever port the server got.
const PRM = new URL('/.well-known/oauth-protected-resource/mcp', TEST_RESOURCE).href;

describe('names from an upstream in the 403 step-up challenge', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const clients: Client[] = [];

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({
      issuer: issuer.issuer,
      config: { builtInTools: false, servers: [stdioServer('hostile', HOSTILE_NAMES_SERVER, [], { scopes: { default: 'mcp:write', tools: {} } })] },
    });
    await waitForServers(server.baseUrl, { hostile: 'ready' });
  });
  after(async () => {
    for (const client of clients) await client.close();
    await server?.close();
    await issuer?.close();
  });

  async function connect(scope: string): Promise<{ client: Client; token: string; sessionId: string }> {
    const token = await issuer.mint({ claims: { scope } });
    const { client, transport } = await connectAs(server.mcpUrl, token);
    clients.push(client);
    // As a client does: it calls what it saw listed (which is also how the gateway learns a URI's owner).
    await Promise.all([client.listTools(), client.listPrompts(), client.listResources()]);
    return { client, token, sessionId: (transport as StreamableHTTPClientTransport).sessionId! };
  }

  // [what the upstream listed, the method, its params as the gateway exposes the name]
  const calls: Array<[string, string, Record<string, unknown>]> = [
    ['a tool name with a quote and a parameter', 'tools/call', { name: `hostile__${HOSTILE_NAMES.quotedTool}`, arguments: {} }],
    ['a tool name with CR LF', 'tools/call', { name: `hostile__${HOSTILE_NAMES.crlfTool}`, arguments: {} }],
    ['a prompt name with a backslash, a quote and a parameter', 'prompts/get', { name: `hostile__${HOSTILE_NAMES.escapedPrompt}` }],
    ['a resource URI with a quote and a parameter', 'resources/read', { uri: HOSTILE_NAMES.quotedUri }],
    ['a resource URI past Latin-1', 'resources/read', { uri: HOSTILE_NAMES.nonLatin1Uri }],
  ];
  for (const [what, method, params] of calls) {
    test(`${what}: ${method} without the scope gets 403 with one resource_metadata, ours`, async () => {
      const { token, sessionId } = await connect('mcp:read');
      const response = await rpc(server.mcpUrl, token, sessionId, method, params);
      assert.equal(response.status, 403, `refused with the challenge, not ${response.status}: ${await response.clone().text()}`);
      const challenge = challengeParams(response.headers.get('www-authenticate'));
      assert.deepEqual(challenge.filter(([name]) => name === 'resource_metadata'), [['resource_metadata', PRM]]);
      assert.deepEqual(challenge.map(([name]) => name), ['error', 'error_description', 'scope', 'resource_metadata']);
      assert.equal(Object.fromEntries(challenge).scope, 'mcp:read mcp:write');
      const body = await response.json() as { error: string; error_description: string };
      assert.equal(body.error, 'insufficient_scope');
      assert.ok(body.error_description.includes(String(params.name ?? params.uri)), 'the JSON body names it as it is');
    });
  }

  test('with the scope, the tool with a quote in its name is called (the names route)', async () => {
    const { client } = await connect('mcp:read mcp:write');
    assert.equal(resultText(await client.callTool({ name: `hostile__${HOSTILE_NAMES.quotedTool}`, arguments: {} })), 'looked');
  });
});
