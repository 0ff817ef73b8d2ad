/**
 * A JSON-RPC error the gateway answers reads `MCP error <code>: <what>` to the MCP SDK client,
 * once. The SDK's McpError puts that prefix in its message, the SDK server sends the message as
 * it is, and the SDK client adds the prefix again: a review read `MCP error -32602: MCP error
 * -32602: Tool … not found` for a tool that is not there, and an upstream's own error, relayed,
 * carried it three times. Real resource server, the scripted stdio server, an HTTP server that
 * is down, the real SDK client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { freePort } from '../helpers/net.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { connectAs, waitForServers } from './support/gateway-client.ts';
import { httpServer, SCRIPTED, stdioServer } from './support/upstreams.ts';

describe('the errors a caller reads', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let client: Client;

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({
      issuer: issuer.issuer,
      config: { servers: [stdioServer('scripted', SCRIPTED), httpServer('gone', `http://127.0.0.1:${await freePort()}/mcp`, { timeout: 2 })] },
    });
    await waitForServers(server.baseUrl, { scripted: 'ready', gone: 'down' });
    ({ client } = await connectAs(server.mcpUrl, await issuer.mint({ claims: { scope: 'mcp:read mcp:write' } })));
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await issuer?.close();
  });

  const cases: Array<[what: string, request: () => Promise<unknown>, code: number, text: string]> = [
    ['a tool of no server', () => client.callTool({ name: 'nosuch__look', arguments: {} }), -32602, 'Tool nosuch__look not found'],
    ['a tool name without a server part', () => client.callTool({ name: 'look', arguments: {} }), -32602, 'Tool look not found'],
    ['a prompt of no server', () => client.getPrompt({ name: 'nosuch__greet' }), -32602, 'Prompt nosuch__greet not found'],
    ['a prompt the upstream has not (its own error, relayed)', () => client.getPrompt({ name: 'scripted__nope' }), -32602, 'Prompt nope not found'],
    ['a resource no server listed', () => client.readResource({ uri: 'nosuch://thing' }), -32002, 'Resource nosuch://thing not found'],
    ['a prompt of a server that is down', () => client.getPrompt({ name: 'gone__greet' }), -32603, 'The gone server is unavailable: cannot reach it (ECONNREFUSED).'],
  ];
  for (const [what, request, code, text] of cases) {
    test(`${what}: MCP error ${code}, its prefix once`, async () => {
      const err = await request().then(() => assert.fail('it was answered'), (error: unknown) => error);
      assert.ok(err instanceof McpError, String(err));
      assert.equal(err.code, code);
      assert.equal(err.message, `MCP error ${code}: ${text}`);
    });
  }
});
