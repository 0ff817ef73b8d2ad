/**
 * A server's `timeout` bounds its calls, not its start: a start has `start_timeout` (60 s by
 * default, never less than `timeout`). A stdio server behind `npx -y` or `uvx` downloads itself on
 * its first run, and bounded by a `timeout` of a few seconds for quick tools, every start failed:
 * the server restarted without end and was never ready. Here each kind of server (a shared stdio
 * process, a per-user one, an HTTP server) answers initialize after START_MS, longer than its
 * TIMEOUT_S: it becomes ready and its calls work, and a call slower than its timeout still fails.
 * And since a start may now last a minute, stopping Gatehouse during one ends it instead of
 * waiting it out.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { connectAs, errorText, resultText, waitForServers } from './support/gateway-client.ts';
import { scriptedHttpUpstream } from './support/scripted-http-upstream.ts';
import { httpServer, SLOW_START, stdioServer } from './support/upstreams.ts';

/** Each server's `timeout`: time enough for a call on a loaded machine. */
const TIMEOUT_S = 4;
/** How long each server takes to answer initialize: past TIMEOUT_S, well within `start_timeout`. */
const START_MS = 6_000;

/** An HTTP MCP server answering initialize after `initializeAfterMs` (never, when undefined); its `hang` tool never answers. */
async function slowHttpServer(initializeAfterMs: number | undefined): Promise<{ server: Server; url: string }> {
  let sessions = 0;
  const server = scriptedHttpUpstream((request) => {
    const { what, message, res } = request;
    switch (what) {
      case 'initialize': {
        if (initializeAfterMs === undefined) return;
        sessions += 1;
        const answer = () => request.answer({ result: { protocolVersion: message.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'slow-http', version: '1.0.0' } } }, { 'mcp-session-id': `s${sessions}` });
        setTimeout(() => res.destroyed || answer(), initializeAfterMs).unref();
        return;
      }
      case 'tools/list':
        return request.answer({ result: { tools: [{ name: 'echo', inputSchema: { type: 'object' } }, { name: 'hang', inputSchema: { type: 'object' } }] } });
      case 'tools/call':
        if ((message as { params?: { name?: string } }).params?.name === 'hang') return;
        return request.answer({ result: { content: [{ type: 'text', text: 'echo' }] } });
      case 'GET':
        return res.writeHead(405).end();
      case 'DELETE':
        return res.writeHead(200).end();
      default:
        return res.writeHead(202).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp` };
}

async function closeHttpServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe('a server whose start is slower than its timeout', { timeout: 150_000 }, () => {
  let issuer: TestIssuer;
  let remote: Server;
  let server: RunningResourceServer;
  let client: Client;

  before(async () => {
    issuer = await startTestIssuer();
    const slowHttp = await slowHttpServer(START_MS);
    remote = slowHttp.server;
    server = await startResourceServer({
      issuer: issuer.issuer,
      config: {
        servers: [
          stdioServer('slow', SLOW_START, [String(START_MS)], { timeout: TIMEOUT_S }),
          stdioServer('mine', SLOW_START, [String(START_MS)], { timeout: TIMEOUT_S, perUser: true }),
          httpServer('remote', slowHttp.url, { timeout: TIMEOUT_S }),
        ],
      },
    });
    ({ client } = await connectAs(server.mcpUrl, await issuer.mint({ claims: { scope: 'mcp:read' } })));
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await closeHttpServer(remote);
    await issuer?.close();
  });

  test('becomes ready: its start is bounded by start_timeout, not by its timeout', { timeout: 90_000 }, async () => {
    // Bounded generously: on a loaded machine a start takes longer than START_MS.
    const { body } = await waitForServers(server.baseUrl, { slow: ['ready', 'down'], remote: ['ready', 'down'] }, 60_000);
    assert.deepEqual([body.servers?.slow, body.servers?.remote].map((status) => status?.state), ['ready', 'ready'], JSON.stringify(body.servers));
  });

  test('its tools are called, the first call waiting for the start of its process or session, and listed', { timeout: 90_000 }, async () => {
    await waitForServers(server.baseUrl, { slow: 'ready', remote: 'ready' }, 60_000);
    assert.equal(resultText(await client.callTool({ name: 'slow__echo', arguments: { text: 'shared' } })), 'shared');
    // The user's process and the session's HTTP connection start at this first call. (A list
    // waits for neither: it leaves out a server that does not answer within min(timeout, 10 s).)
    assert.equal(resultText(await client.callTool({ name: 'mine__echo', arguments: { text: 'per user' } })), 'per user');
    assert.equal(resultText(await client.callTool({ name: 'remote__echo', arguments: {} })), 'echo');
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    for (const name of ['slow__echo', 'mine__echo', 'remote__echo']) assert.ok(names.includes(name), `${name} is listed: ${names.join(', ')}`);
  });

  // [server, the tool call that outlasts its timeout]
  const slowCalls: Array<[string, string, Record<string, unknown>]> = [
    ['slow', 'slow__sleep', { ms: 60_000 }],
    ['mine', 'mine__sleep', { ms: 60_000 }],
    ['remote', 'remote__hang', {}],
  ];
  for (const [name, tool, args] of slowCalls) {
    test(`a call to the ${name} server slower than its timeout still fails after that timeout`, { timeout: 60_000 }, async () => {
      await waitForServers(server.baseUrl, { slow: 'ready', remote: 'ready' }, 60_000);
      const started = performance.now();
      const text = errorText(await client.callTool({ name: tool, arguments: args }));
      assert.match(text, new RegExp(`The ${name} server`));
      assert.match(text, new RegExp(`did not answer within ${TIMEOUT_S} s`));
      const took = performance.now() - started;
      assert.ok(took < 20_000, `given up after its ${TIMEOUT_S} s timeout, not its start_timeout (${Math.round(took)} ms)`);
    });
  }
});

describe('stopping Gatehouse while servers are starting', { timeout: 150_000 }, () => {
  let issuer: TestIssuer;
  let stuck: Server;
  let server: RunningResourceServer | undefined;

  before(async () => {
    issuer = await startTestIssuer();
  });
  after(async () => {
    await server?.close();
    await closeHttpServer(stuck);
    await issuer?.close();
  });

  test('ends their starts at once instead of waiting them out', { timeout: 120_000 }, async () => {
    const stuckHttp = await slowHttpServer(undefined);
    stuck = stuckHttp.server;
    // Each start would take longer than the whole test: only the stop can end them.
    const running = server = await startResourceServer({
      issuer: issuer.issuer,
      config: {
        servers: [
          stdioServer('slow', SLOW_START, ['600000'], { timeout: 30 }),
          stdioServer('mine', SLOW_START, ['600000'], { timeout: 30, perUser: true }),
          httpServer('remote', stuckHttp.url, { timeout: 30 }),
        ],
      },
    });
    const { client } = await connectAs(running.mcpUrl, await issuer.mint({ claims: { scope: 'mcp:read' } }));
    // A per-user process and an HTTP session are started by a caller's request.
    const listed = client.listTools().catch((err: unknown) => err);
    await waitForServers(running.baseUrl, { slow: 'starting', mine: 'starting', remote: 'starting' }, 30_000);
    const started = performance.now();
    await running.close();
    server = undefined;
    const took = performance.now() - started;
    assert.ok(took < 15_000, `stopped in ${Math.round(took)} ms, not after the starts' timeouts (30 s)`);
    // Its answer never came (the connections were closed): closing the client ends its wait.
    await client.close().catch(() => {});
    await listed;
  });
});
