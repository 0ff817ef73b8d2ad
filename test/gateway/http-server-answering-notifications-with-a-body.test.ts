/**
 * An HTTP server that answers a notification's POST with `200 application/json` and a body, where
 * the spec says 202, still works through the gateway, as it does with the SDK's own transport,
 * which reads the body only of a POST that carried a request. The gateway's transport checked
 * every JSON body for JSON-RPC, so `notifications/initialized` answered with `{}` failed the
 * connection and the server showed as down.
 *
 * One that answers it with `200` and a body it keeps open (an event stream, JSON, no type) works
 * too: the transport waited for the body's end, so `notifications/initialized` held every
 * connection being opened (the probe's and each client session's) for the server's whole
 * `timeout`; the SDK's transport cancels such a body at once.
 *
 * The upstream is a scripted node:http server (a real one answers 202); the caller is the MCP SDK
 * client.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectAs, resultText, waitForServers } from './support/gateway-client.ts';
import { scriptedHttpUpstream } from './support/scripted-http-upstream.ts';
import { httpServer } from './support/upstreams.ts';

/** What each server answers a notification with, as its whole 200 application/json body. */
const BODIES: Array<[string, string]> = [
  ['an empty object', '{}'],
  ['null', 'null'],
  ['an empty body', ''],
  ['a JSON-RPC result without an id', JSON.stringify({ jsonrpc: '2.0', result: {} })],
  ['a JSON-RPC error without an id', JSON.stringify({ jsonrpc: '2.0', error: { code: -32600, message: 'no id' } })],
];

describe('an HTTP server answering notifications with 200 and a JSON body', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;

  const upstream = scriptedHttpUpstream(({ what, message, res, answer }) => {
    switch (what) {
      case 'initialize':
        return answer({ result: { protocolVersion: message.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'lenient', version: '1' } } });
      case 'tools/list':
        return answer({ result: { tools: [{ name: 'hi', inputSchema: { type: 'object' } }] } });
      case 'tools/call':
        return answer({ result: { content: [{ type: 'text', text: 'hello' }] } });
      case 'GET':
      case 'DELETE':
        return void res.writeHead(405).end();
      default: {
        // A notification (or an answer of ours): the body of the server's case, by its path.
        const index = Number(res.req.url!.split('/').at(-1));
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(BODIES[index]![1]);
      }
    }
  });

  before(async () => {
    issuer = await startTestIssuer();
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`;
    server = await startResourceServer({
      issuer: issuer.issuer,
      config: { servers: BODIES.map((_, index) => httpServer(`lenient${index}`, `${base}/${index}`, { timeout: 5 })) },
    });
  });
  after(async () => {
    await server?.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
    await issuer?.close();
  });

  for (const [index, [name]] of BODIES.entries()) {
    test(`answered with ${name}, it is ready and its tool can be called`, async () => {
      await waitForServers(server.baseUrl, { [`lenient${index}`]: 'ready' });
      const { client } = await connectAs(server.mcpUrl, await issuer.mint());
      try {
        assert.equal(resultText(await client.callTool({ name: `lenient${index}__hi`, arguments: {} })), 'hello');
      } finally {
        await client.close();
      }
    });
  }
});

/** Bodies a server starts answering a notification with and never ends. */
const KEPT_OPEN: Array<[what: string, headers: Record<string, string>, start: string]> = [
  ['an event stream', { 'content-type': 'text/event-stream' }, ': kept open\n\n'],
  ['a JSON body', { 'content-type': 'application/json' }, '{'],
  ['a body of no type', {}, ' '],
];

for (const [what, headers, start] of KEPT_OPEN) {
  describe(`an HTTP server answering notifications with 200 and ${what} it keeps open`, { timeout: 60_000 }, () => {
    let issuer: TestIssuer;
    let server: RunningResourceServer;
    /** The bodies the server answered notifications with. */
    const streams: ServerResponse[] = [];

    const upstream = scriptedHttpUpstream(({ what: method, message, res, answer }) => {
      switch (method) {
        case 'initialize':
          return answer({ result: { protocolVersion: message.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'streaming', version: '1' } } });
        case 'tools/list':
          return answer({ result: { tools: [{ name: 'hi', inputSchema: { type: 'object' } }] } });
        case 'tools/call':
          return answer({ result: { content: [{ type: 'text', text: 'hello' }] } });
        case 'GET':
        case 'DELETE':
          return void res.writeHead(405).end();
        default:
          res.writeHead(200, headers).write(start);
          streams.push(res);
      }
    });

    before(async () => {
      issuer = await startTestIssuer();
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      // Longer than the waits below: held for it, the server never showed as ready in time.
      const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`;
      server = await startResourceServer({ issuer: issuer.issuer, config: { servers: [httpServer('streaming', url, { timeout: 120 })] } });
    });
    after(async () => {
      await server?.close();
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
      await issuer?.close();
    });

    test('it is ready, its tool can be called, and the bodies are let go', async () => {
      await waitForServers(server.baseUrl, { streaming: 'ready' });
      const { client } = await connectAs(server.mcpUrl, await issuer.mint());
      try {
        assert.equal(resultText(await client.callTool({ name: 'streaming__hi', arguments: {} })), 'hello');
      } finally {
        await client.close();
      }
      assert.ok(streams.length >= 2, 'the probe\'s and the session\'s notifications/initialized');
      await waitFor('the gateway to close every notification\'s body', () => streams.every((res) => res.closed));
    });
  });
}
