/**
 * What the SDK's Client is told went wrong on a connection to an upstream (a message the
 * transport dropped as not JSON-RPC, a response to no request) is logged at warn, naming the
 * server, at most once a minute per connection with the count of those left out, and without
 * what the upstream quoted. Nothing was logged: a server sending garbage looked healthy.
 *
 * The upstream is a scripted node:http server whose tool call sends, on its event stream, what
 * the call's arguments ask for before the answer; the gateway's connection to it is the one
 * http-upstream.ts opens (UpstreamConnection over HttpClientTransport), on a TestClock.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { HttpClientTransport } from '../../apps/resource-server/src/gateway/http-client-transport.ts';
import { UpstreamConnection, type CallingClient } from '../../apps/resource-server/src/gateway/upstream-connection.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { scriptedHttpUpstream } from './support/scripted-http-upstream.ts';

const MESSAGE = /^the connection to an mcp server reported an error/;

interface ErrorLine {
  server: string;
  error: string;
  errorsNotLogged?: number;
}

describe('what a connection to an upstream reports going wrong', { timeout: 60_000 }, () => {
  let connection: UpstreamConnection;
  const clock = new TestClock();
  const lines: ErrorLine[] = [];
  const logs = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        const entry = JSON.parse(line) as ErrorLine & { level: number; msg: string };
        if (entry.level === 40 && MESSAGE.test(entry.msg)) lines.push(entry);
      }
      done();
    },
  });

  const upstream = scriptedHttpUpstream(({ what, message, res, answer }) => {
    const params = message.params as { protocolVersion?: string; arguments?: { garbage?: number; stray?: boolean } } | undefined;
    switch (what) {
      case 'initialize':
        return answer({ result: { protocolVersion: params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'noisy', version: '1' } } });
      case 'tools/list':
        return answer({ result: { tools: [{ name: 'send', inputSchema: { type: 'object' } }] } });
      case 'tools/call': {
        const { garbage = 0, stray = false } = params?.arguments ?? {};
        const send = (data: string) => res.write(`event: message\ndata: ${data}\n\n`);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (let i = 0; i < garbage; i += 1) send(JSON.stringify({ method: 'notifications/message', params: { level: 'info', data: 'no jsonrpc' } }));
        if (stray) send(JSON.stringify({ jsonrpc: '2.0', id: 424242, result: { content: [{ type: 'text', text: 'another caller\'s data' }] } }));
        return void res.end(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: 'answered' }] } })}\n\n`);
      }
      case 'GET':
      case 'DELETE':
        return void res.writeHead(405).end();
      default:
        return void res.writeHead(202).end();
    }
  });

  const caller = { sessionKey: 'session', capabilities: {} } as unknown as CallingClient;
  const call = async (args: { garbage?: number; stray?: boolean }) => {
    const result = await connection.request('tools/call', { name: 'send', arguments: args }, CallToolResultSchema, caller, {});
    assert.deepEqual(result.content, [{ type: 'text', text: 'answered' }]);
  };

  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = new URL(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`);
    connection = await UpstreamConnection.open({
      server: 'noisy',
      transport: new HttpClientTransport({ url, timeoutMs: 5000, headersFor: async () => ({}) }),
      timeoutMs: 5000,
      startTimeoutMs: 5000,
      logger: createLogger('resource-server', 'info', logs),
      credentials: () => [],
      clock,
    });
  });
  after(async () => {
    await connection?.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  test('a message that is not JSON-RPC is one warn line naming the server', async () => {
    await call({ garbage: 1 });
    await waitFor('the warn line', () => lines.length > 0);
    assert.deepEqual(lines.map(({ server, error, errorsNotLogged }) => ({ server, error, errorsNotLogged })), [
      { server: 'noisy', error: 'an event of its stream is not a JSON-RPC 2.0 message', errorsNotLogged: undefined },
    ]);
  });

  test('many more within the minute add no line', async () => {
    await call({ garbage: 50 });
    await call({ garbage: 50 });
    assert.equal(lines.length, 1);
  });

  test('a minute on, the next is logged with the count of those left out', async () => {
    clock.advance(61);
    await call({ garbage: 1 });
    await waitFor('the second warn line', () => lines.length > 1);
    assert.equal(lines.length, 2);
    assert.equal(lines[1]!.errorsNotLogged, 100);
  });

  test('a response to no request is logged without what it quoted', async () => {
    clock.advance(61);
    await call({ stray: true });
    await waitFor('the third warn line', () => lines.length > 2);
    assert.match(lines[2]!.error, /^Received a response for an unknown message ID/);
    assert.doesNotMatch(lines[2]!.error, /another caller/);
  });
});
