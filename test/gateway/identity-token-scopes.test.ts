/**
 * A forward_identity server's identity token carries only the caller's scopes that server's
 * configuration mentions (its `scopes.default` and `scopes.tools`), never the others: the
 * auth-server's token exchange grants any scope of the caller's token, so this is the only thing
 * keeping `mcp:admin`, or another server's scopes, from a server that was never given them. A
 * mutation review found that asking with every scope of the caller went unnoticed (the one test
 * of the token's scope signed in with mcp:read alone). The token source is a stand-in that
 * records what it is asked for; the server is a real MCP SDK server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { connectAs, resultText, waitForServers } from './support/gateway-client.ts';
import { startRecordingUpstream, type RecordingUpstream } from './support/recording-upstream.ts';
import { httpServer } from './support/upstreams.ts';

describe('the scopes of a forward_identity server\'s identity token', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let readOnly: RecordingUpstream;
  let writing: RecordingUpstream;
  const asked: Array<{ audience: string; scopes: readonly string[] }> = [];
  const clients: Client[] = [];

  before(async () => {
    issuer = await startTestIssuer();
    [readOnly, writing] = [await startRecordingUpstream(), await startRecordingUpstream()];
    server = await startResourceServer({
      issuer: issuer.issuer,
      identity: {
        async tokenFor(_caller, audience, scopes) {
          asked.push({ audience, scopes });
          return `identity-token-${asked.length}`;
        },
      },
      config: {
        servers: [
          httpServer('reader', readOnly.url, { forwardIdentity: true }),
          httpServer('writer', writing.url, { forwardIdentity: true, scopes: { default: 'mcp:read', tools: { echo: 'mcp:write' } } }),
        ],
      },
    });
    // Their probes go without a caller, so without an identity token; the servers do not check it.
    await waitForServers(server.baseUrl, { reader: 'ready', writer: 'ready' });
  });
  after(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await server?.close();
    await readOnly?.close();
    await writing?.close();
    await issuer?.close();
  });

  async function callEcho(tool: string, scope: string): Promise<Array<{ audience: string; scopes: readonly string[] }>> {
    const token = await issuer.mint({ claims: { scope } });
    const { client } = await connectAs(server.mcpUrl, token);
    clients.push(client);
    const from = asked.length;
    assert.equal(resultText(await client.callTool({ name: tool, arguments: { text: 'hi' } })), 'hi');
    return asked.slice(from);
  }

  // [server's tool, caller's scopes, the scopes its identity token may carry]
  const cases: Array<[string, string, string[]]> = [
    ['reader__echo', 'mcp:read mcp:write mcp:admin', ['mcp:read']],
    ['writer__echo', 'mcp:read mcp:write mcp:admin', ['mcp:read', 'mcp:write']],
    ['writer__echo', 'mcp:read mcp:write', ['mcp:read', 'mcp:write']],
  ];
  for (const [tool, scope, expected] of cases) {
    test(`${tool} called with ${scope}: asked for ${expected.join(' ')} only`, async () => {
      const requests = await callEcho(tool, scope);
      const upstream = tool.startsWith('reader') ? readOnly : writing;
      assert.ok(requests.length > 0, 'an identity token was asked for');
      for (const request of requests) {
        assert.equal(request.audience, upstream.url);
        assert.deepEqual([...request.scopes].sort(), expected);
      }
    });
  }
});
