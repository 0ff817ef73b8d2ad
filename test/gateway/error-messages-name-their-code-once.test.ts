/**
 * A JSON-RPC error the gateway answers reads `MCP error <code>: <what>` to the MCP SDK client,
 * once. The SDK's McpError puts that prefix in its message, the SDK server sends the message as
 * it is, and the SDK client adds the prefix again: a review read `MCP error -32602: MCP error
 * -32602: Tool … not found` for a tool that is not there, and an upstream's own error, relayed,
 * carried it three times. Requests whose params the SDK's own checks refuse (its Server checks a
 * tools/call before any handler of ours runs) read it once too. Real resource server, the scripted
 * stdio server, an HTTP server that is down, the real SDK client.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError, ResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { freePort } from '../helpers/net.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { connectAs, waitForServers } from './support/gateway-client.ts';
import { scriptedHttpUpstream } from './support/scripted-http-upstream.ts';
import { httpServer, SCRIPTED, stdioServer } from './support/upstreams.ts';

describe('the errors a caller reads', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let client: Client;
  /** Answers every prompts/get with an error as an SDK server sends it: prefixed, with data. */
  const strict = scriptedHttpUpstream(({ what, message, answer, res }) => {
    switch (what) {
      case 'initialize':
        return answer({ result: { protocolVersion: message.params?.protocolVersion, capabilities: { prompts: {} }, serverInfo: { name: 'strict', version: '1' } } });
      case 'prompts/list':
        return answer({ result: { prompts: [{ name: 'ask' }] } });
      case 'prompts/get':
        return answer({ error: { code: -32600, message: 'MCP error -32600: not before noon', data: { retry_after: 3600 } } });
      case 'GET':
      case 'DELETE':
        return void res.writeHead(405).end();
      default:
        return void res.writeHead(202).end();
    }
  });

  before(async () => {
    await new Promise<void>((resolve) => strict.listen(0, '127.0.0.1', resolve));
    const { port } = strict.address() as AddressInfo;
    issuer = await startTestIssuer();
    server = await startResourceServer({
      issuer: issuer.issuer,
      config: {
        servers: [
          stdioServer('scripted', SCRIPTED),
          httpServer('gone', `http://127.0.0.1:${await freePort()}/mcp`, { timeout: 2 }),
          httpServer('strict', `http://127.0.0.1:${port}/mcp`),
        ],
      },
    });
    await waitForServers(server.baseUrl, { scripted: 'ready', gone: 'down', strict: 'ready' });
    ({ client } = await connectAs(server.mcpUrl, await issuer.mint({ claims: { scope: 'mcp:read mcp:write' } })));
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await issuer?.close();
    strict.closeAllConnections();
    await new Promise((resolve) => strict.close(resolve));
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

  test('an upstream\'s error with data: its code and data kept, its prefix once', async () => {
    const err = await client.getPrompt({ name: 'strict__ask' }).then(() => assert.fail('it was answered'), (error: unknown) => error);
    assert.ok(err instanceof McpError, String(err));
    assert.equal(err.code, -32600);
    assert.equal(err.message, 'MCP error -32600: not before noon');
    assert.deepEqual(err.data, { retry_after: 3600 });
  });

  // Sent as they are: the SDK client does not check the params of a request it sends.
  const send = (method: string, params: unknown) => () => client.request({ method, params } as never, ResultSchema);
  const hostile: Array<[what: string, request: () => Promise<unknown>, words: RegExp]> = [
    ['a tools/call without a name', send('tools/call', { arguments: {} }), /^Invalid tools\/call request: /],
    ['a tools/call whose name is a number', send('tools/call', { name: 42, arguments: {} }), /^Invalid tools\/call request: /],
    ['a tools/call whose arguments are a string', send('tools/call', { name: 'scripted__echo-meta', arguments: 'x' }), /^Invalid tools\/call request: /],
    ['a tools/call whose arguments are an array', send('tools/call', { name: 'scripted__echo-meta', arguments: [1] }), /^Invalid tools\/call request: /],
    ['a tools/call without params', send('tools/call', undefined), /^Invalid tools\/call request: /],
    ['a prompts/get without a name', send('prompts/get', {}), /^Invalid params: params\.name: /],
    ['a prompts/get whose arguments are a string', send('prompts/get', { name: 'scripted__greet', arguments: 'x' }), /^Invalid params: params\.arguments: /],
    ['a prompts/get whose argument is a number', send('prompts/get', { name: 'scripted__greet', arguments: { who: 1 } }), /^Invalid params: params\.arguments\.who: /],
    ['a resources/read without a uri', send('resources/read', {}), /^Invalid params: params\.uri: /],
    ['a resources/read whose uri is an object', send('resources/read', { uri: { href: 'x' } }), /^Invalid params: params\.uri: /],
  ];
  for (const [what, request, words] of hostile) {
    test(`${what}: MCP error -32602, its prefix once`, async () => {
      const err = await request().then(() => assert.fail('it was answered'), (error: unknown) => error);
      assert.ok(err instanceof McpError, String(err));
      assert.equal(err.code, -32602);
      const text = err.message.slice('MCP error -32602: '.length);
      assert.equal(err.message, `MCP error -32602: ${text}`);
      assert.doesNotMatch(text, /MCP error/, `the caller read ${err.message.split('\n')[0]}`);
      assert.match(text, words);
    });
  }
});
