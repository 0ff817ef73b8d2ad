/**
 * What an HTTP server sends that is not a JSON-RPC 2.0 message reaches no caller, and costs no
 * call its answer. The gateway's HTTP transport handed on whatever JSON an event held, and the
 * relay acts on progress and log messages before the SDK checks them (upstream-connection.ts
 * `#arrived`): a log message without `jsonrpc`, of JSON-RPC 1.0, or with a `result` reached the
 * caller; an event of `null`, a number or a string (or not JSON) stopped the reading of the
 * call's stream, and the call failed only at the server's timeout. A JSON answer that is not
 * JSON-RPC fails its call at once.
 *
 * The upstream is a scripted node:http server (a real one cannot be told to send these); the
 * caller is the MCP SDK client, declaring elicitation. The relay itself acts only on what the SDK
 * takes for JSON-RPC whatever its transport hands on: that is checked on the SDK's in-memory
 * transport, which hands on anything.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { CallToolResultSchema, ElicitRequestSchema, LoggingMessageNotificationSchema, type JSONRPCMessage, type Progress, type ServerNotification } from '@modelcontextprotocol/sdk/types.js';
import { UpstreamConnection, type CallingClient } from '../../apps/resource-server/src/gateway/upstream-connection.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { connectAs, errorText, resultText, waitForServers } from './support/gateway-client.ts';
import { scriptedHttpUpstream } from './support/scripted-http-upstream.ts';
import { httpServer } from './support/upstreams.ts';

/** The server's timeout, in seconds: a call the gateway stopped reading would end with it. */
const TIMEOUT_S = 5;
const DEPTH = 200_000;

/**
 * The hostile event of each case, given the call's progress token upstream. Each would say
 * "hostile" to the caller, were it relayed.
 */
const EVENTS: Array<[string, (progressToken: unknown) => string]> = [
  ['a log message without jsonrpc', () => JSON.stringify({ method: 'notifications/message', params: { level: 'info', data: 'hostile' } })],
  ['a log message of JSON-RPC 1.0', () => JSON.stringify({ jsonrpc: '1.0', method: 'notifications/message', params: { level: 'info', data: 'hostile' } })],
  ['a log message that also carries a result', () => JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'hostile' }, result: {} })],
  ['a progress message without jsonrpc', (progressToken) => JSON.stringify({ method: 'notifications/progress', params: { progressToken, progress: 1, message: 'hostile' } })],
  ['a progress message that also carries an error', (progressToken) => JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken, progress: 1, message: 'hostile' }, error: { code: 1, message: 'x' } })],
  ['an elicitation without jsonrpc', () => JSON.stringify({ id: 'e1', method: 'elicitation/create', params: { message: 'hostile', requestedSchema: { type: 'object', properties: {} } } })],
  ['a batch holding a log message', () => JSON.stringify([{ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'hostile' } }])],
  ['null', () => 'null'],
  ['a number', () => '7'],
  ['a string', () => '"hostile"'],
  ['an empty array', () => '[]'],
  ['text that is not JSON', () => '{"jsonrpc":"2.0",'],
  // Valid, but the SDK's Protocol throws on it: quoting it overflows the stack.
  [`a response to no request, nested ${DEPTH} deep`, () => `{"jsonrpc":"2.0","id":424242,"result":{"a":${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}}}`],
];

/** JSON answers to a tools/call that are no JSON-RPC 2.0 message (answered as its whole body). */
const BODIES: Array<[string, string]> = [
  ['a log message without jsonrpc', JSON.stringify({ method: 'notifications/message', params: { level: 'info', data: 'hostile' } })],
  ['a result without jsonrpc', JSON.stringify({ id: 0, result: { content: [{ type: 'text', text: 'hostile' }] } })],
  ['null', 'null'],
  ['a string', '"hostile"'],
  ['an empty batch', '[]'],
  ['a batch with one message of JSON-RPC 1.0', JSON.stringify([{ jsonrpc: '1.0', method: 'notifications/message', params: { level: 'info', data: 'hostile' } }])],
];

describe('what an HTTP server sends that is not a JSON-RPC 2.0 message', { timeout: 120_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let client: Client;
  const logged: unknown[] = [];
  const elicited: unknown[] = [];

  const upstream = scriptedHttpUpstream(({ what, message, res, answer }) => {
    const params = message.params as { protocolVersion?: string; arguments?: { event?: number; body?: number }; _meta?: { progressToken?: unknown } } | undefined;
    switch (what) {
      case 'initialize':
        return answer({ result: { protocolVersion: params?.protocolVersion, capabilities: { tools: {}, logging: {} }, serverInfo: { name: 'hostile', version: '1' } } });
      case 'tools/list':
        return answer({ result: { tools: [{ name: 'send', inputSchema: { type: 'object' } }] } });
      case 'tools/call': {
        const { event, body } = params?.arguments ?? {};
        if (body !== undefined) return void res.writeHead(200, { 'content-type': 'application/json' }).end(BODIES[body]![1]);
        const progressToken = params?._meta?.progressToken;
        const send = (data: string) => res.write(`event: message\ndata: ${data}\n\n`);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        send(EVENTS[event!]![1](progressToken));
        // What is relayed after it: the stream is read on.
        send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: `after ${event}` } }));
        send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken, progress: 2, message: `after ${event}` } }));
        return void res.end(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: `answered ${event}` }] } })}\n\n`);
      }
      case 'GET':
        return void res.writeHead(405).end();
      default:
        return void res.writeHead(202).end();
    }
  });

  before(async () => {
    issuer = await startTestIssuer();
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`;
    server = await startResourceServer({ issuer: issuer.issuer, config: { servers: [httpServer('hostile', url, { timeout: TIMEOUT_S })] } });
    await waitForServers(server.baseUrl, { hostile: 'ready' });
    client = (await connectAs(server.mcpUrl, await issuer.mint(), { capabilities: { elicitation: {} } })).client;
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => void logged.push(notification.params.data));
    client.setRequestHandler(ElicitRequestSchema, (request) => {
      elicited.push(request.params.message);
      return { action: 'decline' };
    });
  });
  after(async () => {
    await client?.close();
    await server?.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
    await issuer?.close();
  });

  for (const [index, [name]] of EVENTS.entries()) {
    test(`an event of ${name} reaches no caller, and the call is answered`, async () => {
      logged.length = 0;
      elicited.length = 0;
      const progress: Progress[] = [];
      const result = await client.callTool({ name: 'hostile__send', arguments: { event: index } }, undefined, { onprogress: (one) => void progress.push(one) });
      assert.equal(resultText(result), `answered ${index}`, 'the call\'s own answer, not a timeout');
      assert.deepEqual(logged, [`after ${index}`]);
      assert.deepEqual(progress.map((one) => one.message), [`after ${index}`]);
      assert.deepEqual(elicited, []);
    });
  }

  for (const [index, [name]] of BODIES.entries()) {
    test(`a JSON answer of ${name} fails its call at once, and reaches no caller`, async () => {
      logged.length = 0;
      const started = Date.now();
      const result = await client.callTool({ name: 'hostile__send', arguments: { body: index } });
      assert.match(errorText(result), /not JSON-RPC 2\.0/);
      assert.ok(Date.now() - started < TIMEOUT_S * 1000, `answered in ${Date.now() - started} ms, before the server's timeout`);
      assert.deepEqual(logged, []);
    });
  }
});

describe('the relay of an upstream\'s messages, whatever its transport hands on', () => {
  const CASES: Array<[string, (progressToken: unknown) => unknown]> = [
    ['a log message without jsonrpc', () => ({ method: 'notifications/message', params: { level: 'info', data: 'hostile' } })],
    ['a log message of JSON-RPC 1.0', () => ({ jsonrpc: '1.0', method: 'notifications/message', params: { level: 'info', data: 'hostile' } })],
    ['a log message that also carries a result', () => ({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'hostile' }, result: {} })],
    ['a progress message without jsonrpc', (progressToken) => ({ method: 'notifications/progress', params: { progressToken, progress: 1, message: 'hostile' } })],
    ['null', () => null],
  ];
  for (const [name, hostile] of CASES) {
    test(`acts on no ${name}`, async () => {
      const [gatewaySide, serverSide] = InMemoryTransport.createLinkedPair();
      /** What handing a message to the gateway threw (its send rejects with it). */
      const thrown: unknown[] = [];
      serverSide.onmessage = (message) => {
        const { id, method, params } = message as { id: number; method: string; params: { protocolVersion?: string; _meta?: { progressToken?: unknown } } };
        const send = (one: unknown) => serverSide.send(one as JSONRPCMessage).catch((err: unknown) => void thrown.push(err));
        if (method === 'initialize') void send({ jsonrpc: '2.0', id, result: { protocolVersion: params.protocolVersion, capabilities: { tools: {}, logging: {} }, serverInfo: { name: 'raw', version: '1' } } });
        if (method !== 'tools/call') return;
        const progressToken = params._meta?.progressToken;
        void send(hostile(progressToken));
        void send({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'after' } });
        void send({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken, progress: 2, message: 'after' } });
        void send({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'answered' }] } });
      };
      await serverSide.start();
      const connection = await UpstreamConnection.open({ server: 'raw', transport: gatewaySide, timeoutMs: 5000, startTimeoutMs: 5000, logger: createLogger('resource-server', 'silent'), dedicated: true });
      const relayed: ServerNotification[] = [];
      const caller = {
        sessionKey: 'session',
        capabilities: {},
        sendNotification: async (notification: ServerNotification) => void relayed.push(notification),
        notifySession: async (notification: ServerNotification) => void relayed.push(notification),
      } as unknown as CallingClient;
      try {
        const result = await connection.request('tools/call', { name: 'send', arguments: {} }, CallToolResultSchema, caller, { progressToken: 'mine' });
        assert.deepEqual(result.content, [{ type: 'text', text: 'answered' }]);
        assert.deepEqual(relayed.map(({ method, params }) => [method, (params as { data?: unknown; message?: unknown }).data ?? (params as { message?: unknown }).message]), [
          ['notifications/message', 'after'],
          ['notifications/progress', 'after'],
        ]);
        assert.deepEqual(thrown, []);
      } finally {
        await connection.close();
      }
    });
  }
});
