/**
 * An HTTP server's upstream session is opened once per client session and ended with it, however
 * the client's requests interleave with the opening; and a call's event stream is let go once the
 * call's answer is in, whatever the server does with it.
 *
 * - Requests that arrive while another request of the session opens its upstream session share
 *   that opening, its failure included. A waiting request used to drop the entry and open a
 *   session of its own once the first opening failed; with three waiting, one dropped the other's
 *   fresh session from the gateway's table, and nothing ever ended it (DELETE, event stream) while
 *   the process ran; a session ended meanwhile got a new upstream session nothing would end.
 * - A server that answers a call on an event stream and keeps the stream open after the answer
 *   held one socket per call until the client session ended (MCP transports: the server SHOULD
 *   close the stream once it has sent the response).
 *
 * The server is a small scripted node:http one, driven through the gateway's own HttpUpstream.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { VerifiedAccessToken } from '../../apps/resource-server/src/auth/verify-access-token.ts';
import { Gateway } from '../../apps/resource-server/src/gateway/gateway.ts';
import { UpstreamUnavailableError } from '../../apps/resource-server/src/gateway/upstream-errors.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { scriptedHttpUpstream } from './support/scripted-http-upstream.ts';
import { httpServer } from './support/upstreams.ts';

const caller: VerifiedAccessToken = {
  token: 'not sent upstream',
  clientId: 'client',
  scopes: ['mcp:read'],
  expiresAt: Math.floor(Date.now() / 1000) + 3600,
  extra: { subject: 'user-1', tokenId: 'jti-1' },
};

describe('an HTTP server\'s upstream sessions under interleaved requests', { timeout: 60_000 }, () => {
  /** Sessions the server opened (initialize) and ended (DELETE), by id. */
  const opened: string[] = [];
  const deleted: string[] = [];
  /** The sessions' own event streams (GET) and the calls' event streams, while open. */
  const sessionStreams = new Set<ServerResponse>();
  const callStreams = new Set<ServerResponse>();
  /** Initialize requests held by the test, each answered 503 when released. */
  let holdInitialize = false;
  const heldInitialize: ServerResponse[] = [];

  const upstream = scriptedHttpUpstream(({ what, message, session, res, answer }) => {
    switch (what) {
      case 'initialize': {
        if (holdInitialize) return void heldInitialize.push(res);
        const id = `s${opened.length + 1}`;
        opened.push(id);
        return answer({ result: { protocolVersion: message.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'scripted', version: '1.0.0' } } }, { 'mcp-session-id': id });
      }
      case 'GET':
        sessionStreams.add(res);
        res.once('close', () => sessionStreams.delete(res));
        res.writeHead(200, { 'content-type': 'text/event-stream' }).flushHeaders();
        return undefined;
      case 'tools/call':
        // The answer on an event stream that is never ended.
        callStreams.add(res);
        res.once('close', () => callStreams.delete(res));
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: 'done' }] } })}\n\n`);
        return undefined;
      case 'DELETE':
        deleted.push(session);
        return void res.writeHead(200).end();
      default:
        return void res.writeHead(202).end();
    }
  });

  let gateway: Gateway;
  let sessions = 0;
  /** A client session the gateway follows, as the MCP server attaches each one. */
  const attach = () => {
    const sessionKey = `session-${++sessions}`;
    gateway.attach(sessionKey, { subject: caller.extra.subject, listChanged: () => {} });
    return sessionKey;
  };
  const releaseInitialize = () => {
    holdInitialize = false;
    for (const res of heldInitialize.splice(0)) res.writeHead(503).end();
  };

  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`;
    // Not started: no reachability probe opens sessions of its own.
    gateway = new Gateway({ servers: [httpServer('scripted', url, { timeout: 5 })], maxProcesses: 1, maxProcessesPerUser: 1, logger: createLogger('resource-server', 'silent') });
  });
  beforeEach(() => {
    opened.length = 0;
    deleted.length = 0;
  });
  after(async () => {
    await gateway.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  const server = () => gateway.upstreams[0]!;

  test('requests waiting on a failed opening share its failure and open nothing of their own', async () => {
    const sessionKey = attach();
    holdInitialize = true;
    // tools/list, prompts/list, resources/list: what clients send together at start.
    const requests = [1, 2, 3].map(() => gateway.connectionFor(server(), { sessionKey, caller }));
    await waitFor('the first opening to reach the server', () => heldInitialize.length === 1);
    releaseInitialize();
    const outcomes = await Promise.allSettled(requests);
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      assert.ok(outcome.reason instanceof UpstreamUnavailableError, String(outcome.reason));
      assert.match(outcome.reason.message, /503/);
    }
    assert.deepEqual(opened, [], 'no second upstream session for a request that waited on the first');
    await gateway.endSession(sessionKey);
    assert.deepEqual(opened.filter((id) => !deleted.includes(id)), [], 'every upstream session ended with its client session');
  });

  test('a session that ended while its requests waited gets no upstream session', async () => {
    const sessionKey = attach();
    holdInitialize = true;
    const requests = [1, 2].map(() => gateway.connectionFor(server(), { sessionKey, caller }));
    await waitFor('the first opening to reach the server', () => heldInitialize.length === 1);
    const ending = gateway.endSession(sessionKey); // the client's DELETE
    releaseInitialize();
    await ending;
    assert.deepEqual((await Promise.allSettled(requests)).map((o) => o.status), ['rejected', 'rejected']);
    // Another session opened now shows the server has seen every opening of the first.
    const next = attach();
    await gateway.connectionFor(server(), { sessionKey: next, caller });
    await gateway.endSession(next);
    assert.deepEqual(opened, ['s1'], 'only the next session\'s');
    assert.deepEqual(deleted, ['s1']);
    await waitFor('no session event stream left open', () => sessionStreams.size === 0);
  });

  test('once the session is open, concurrent requests share one upstream session', async () => {
    const sessionKey = attach();
    const connections = await Promise.all([1, 2, 3].map(() => gateway.connectionFor(server(), { sessionKey, caller })));
    assert.equal(new Set(connections).size, 1);
    assert.equal(opened.length, 1);
    await gateway.endSession(sessionKey);
    assert.deepEqual(deleted, opened);
  });

  test('a call\'s event stream is let go once its answer is in, though the server keeps it open', async () => {
    const sessionKey = attach();
    const connection = await gateway.connectionFor(server(), { sessionKey, caller });
    for (let call = 1; call <= 5; call += 1) {
      const result = await connection.client.callTool({ name: 'echo', arguments: {} });
      assert.deepEqual(result.content, [{ type: 'text', text: 'done' }]);
    }
    // The client session goes on; only its calls are over.
    await waitFor('every call\'s stream to be closed by the gateway', () => callStreams.size === 0, 5000);
    assert.equal(sessionStreams.size, 1, 'the session\'s own event stream stays open');
    await gateway.endSession(sessionKey);
  });
});
