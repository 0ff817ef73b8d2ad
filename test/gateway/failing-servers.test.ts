/**
 * Servers that fail (issue 12, behaviour 4): one unreachable at boot (an HTTP URL nobody listens
 * on, a command that does not exist), one that hangs past its timeout, one that crashes in the
 * middle of a call. Each makes only its own tools fail, as an MCP tool error that names the
 * server, never an HTTP 5xx; the other servers and the built-in tools keep working; a crashed
 * server is started again; /readyz stays 200 and reports each server's state.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { freePort } from '../helpers/net.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { connectAs, errorText, readiness, resultText, rpc, waitForServers, type ToolResult } from './support/gateway-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { startRecordingUpstream, type RecordingUpstream } from './support/recording-upstream.ts';
import { EVERYTHING, httpServer, SCRIPTED, stdioServer } from './support/upstreams.ts';

describe('a server that is down, hangs or crashes fails only its own tools', { timeout: 150_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let client: Client;
  let token: string;
  let sessionId: string;
  let latePort: number;
  let late: RecordingUpstream | undefined;

  before(async () => {
    issuer = await startTestIssuer();
    const nobody = await freePort();
    latePort = await freePort();
    server = await startResourceServer({
      issuer: issuer.issuer,
      config: {
        servers: [
          // The timeout bounds its start (initialize) too: time enough for that on a loaded
          // machine, and well short of the long-running operation a test has it give up on.
          stdioServer('everything', EVERYTHING, ['stdio'], { timeout: 5 }),
          stdioServer('scripted', SCRIPTED),
          httpServer('gone', `http://127.0.0.1:${nobody}/mcp`, { timeout: 2 }),
          httpServer('late', `http://127.0.0.1:${latePort}/mcp`, { timeout: 2 }),
          { ...stdioServer('missing', SCRIPTED), command: '/nonexistent/gatehouse-test/mcp-server', args: [] },
        ],
      },
    });
    token = await issuer.mint({ claims: { scope: 'mcp:read mcp:write' } });
    // Bounded generously: on a loaded machine the servers take a while to start.
    await waitForServers(server.baseUrl, { everything: 'ready', scripted: 'ready', gone: 'down', missing: 'down', late: 'down' }, 60_000);
    const connected = await connectAs(server.mcpUrl, token);
    client = connected.client;
    sessionId = (connected.transport as StreamableHTTPClientTransport).sessionId!;
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await late?.close();
    await issuer?.close();
  });

  test('/readyz stays 200 with servers down, and reports each server\'s state', { timeout: 15_000 }, async () => {
    const { status, body } = await readiness(server.baseUrl);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.status, 'ready');
    assert.equal(body.servers?.everything?.state, 'ready');
    assert.equal(body.servers?.scripted?.state, 'ready');
    assert.equal(body.servers?.gone?.state, 'down');
    assert.equal(body.servers?.missing?.state, 'down');
  });

  // [server, a tool name under it]
  const downServers: Array<[string, string]> = [['gone', 'gone__echo'], ['missing', 'missing__echo-meta']];
  for (const [name, tool] of downServers) {
    test(`a call to the ${name} server, down since boot, is a tool error naming it, in an HTTP 200`, { timeout: 15_000 }, async () => {
      assert.match(errorText(await client.callTool({ name: tool, arguments: {} })), new RegExp(`The ${name} server`));
      const response = await rpc(server.mcpUrl, token, sessionId, 'tools/call', { name: tool, arguments: {} });
      assert.equal(response.status, 200, 'never a 5xx for an upstream\'s failure');
      assert.match(await response.text(), /"isError":\s*true/);
    });
  }

  test('the other servers and the built-in tools keep working beside the down ones', { timeout: 15_000 }, async () => {
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    assert.ok(names.includes('everything__echo') && names.includes('scripted__echo-meta') && names.includes('whoami'));
    assert.equal(resultText(await client.callTool({ name: 'everything__echo', arguments: { message: 'still here' } })), 'Echo: still here');
    resultText(await client.callTool({ name: 'whoami', arguments: {} }));
  });

  test('a call that runs past the server\'s timeout is a tool error naming the server, and the server stays usable', { timeout: 30_000 }, async () => {
    const started = Date.now();
    const result = await client.callTool({ name: 'everything__trigger-long-running-operation', arguments: { duration: 30, steps: 2 } });
    const text = errorText(result);
    assert.match(text, /The everything server/);
    assert.match(text, /did not answer within 5 s/);
    assert.ok(Date.now() - started < 20_000, `given up after the 5 s timeout, not after the 30 s operation (${Date.now() - started} ms)`);
    assert.equal(resultText(await client.callTool({ name: 'everything__echo', arguments: { message: 'after' } })), 'Echo: after');
  });

  test('a server that crashes in the middle of a call fails that call, and is started again for later calls', { timeout: 30_000 }, async () => {
    const crashed = await client.callTool({ name: 'scripted__crash', arguments: {} });
    assert.match(errorText(crashed), /The scripted server/);
    assert.equal(resultText(await client.callTool({ name: 'everything__echo', arguments: { message: 'unaffected' } })), 'Echo: unaffected');
    let last: ToolResult | undefined;
    await waitFor('the scripted server to be back', async () => {
      last = await client.callTool({ name: 'scripted__echo-meta', arguments: {} });
      if (last.isError) assert.match(errorText(last), /The scripted server/, 'while it restarts, its calls say which server');
      return !last.isError;
    }, 20_000, 250);
    await waitForServers(server.baseUrl, { scripted: 'ready' });
    const { status } = await readiness(server.baseUrl);
    assert.equal(status, 200);
  });

  test('an HTTP server down at boot is used as soon as it answers, and /readyz says so', { timeout: 15_000 }, async () => {
    assert.match(errorText(await client.callTool({ name: 'late__echo', arguments: { text: 'early' } })), /The late server/);
    late = await startRecordingUpstream(latePort);
    assert.equal(resultText(await client.callTool({ name: 'late__echo', arguments: { text: 'now' } })), 'now');
    assert.equal((await readiness(server.baseUrl)).body.servers?.late?.state, 'ready');
  });
});
