/**
 * A call to an HTTP server that the gateway gives up (the caller cancels it, or it runs past the
 * server's timeout) ends its POST to the server, besides telling the server with
 * notifications/cancelled (MCP 2025-11-25 basic/utilities/cancellation). A server does not answer
 * a cancelled request (the SDK's does not), so a POST left open stayed open for as long as the
 * caller's session lasted: one connection and one held request at the server per call given up.
 *
 * (A stateless caller that goes away needs none of this: the upstream session opened for its
 * request is ended, DELETE and all, and the server ends the session's streams.)
 *
 * Until then a call holds one of its caller's places at that server: one caller has at most
 * MAX_CALLS_PER_CALLER calls waiting on one server at once (call-budget.ts), and a call past them
 * is answered at once with a tool error, never sent. A call whose caller only hung up keeps its
 * place until the server's timeout (a disconnection is no cancellation, MCP 2025-11-25
 * basic/transports), so hanging up and calling again cannot pile calls up at the server.
 *
 * The HTTP server is the recording upstream (the SDK's McpServer over Streamable HTTP), whose
 * `wait-for-cancel` tool runs until it is cancelled, and which records each POST the gateway
 * closed before its answer ended.
 *
 * A stdio server has no request to close, and may go on with a call it is told is cancelled
 * (MCP 2025-11-25 basic/utilities/cancellation), answering nothing: there a cancelled call keeps
 * its place until the server's timeout, or until the process exits. Given back at once, one user
 * who cancelled each call as it started had 40 running at once on a shared server. That server is
 * fixtures/ignoring-cancel-server.mjs.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { MAX_CALLS_PER_CALLER } from '../../apps/resource-server/src/gateway/call-budget.ts';
import { mcpRequest, openSession } from '../helpers/mcp-http.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectAs, errorText, resultText, waitForServers, type ToolResult } from './support/gateway-client.ts';
import { startRecordingUpstream, type RecordingUpstream } from './support/recording-upstream.ts';
import { httpServer, IGNORING_CANCEL, stdioServer } from './support/upstreams.ts';

describe('a call the gateway gives up', { timeout: 180_000 }, () => {
  let issuer: TestIssuer;
  let upstream: RecordingUpstream;
  let server: RunningResourceServer;
  const clients: Client[] = [];

  before(async () => {
    issuer = await startTestIssuer();
    upstream = await startRecordingUpstream();
    server = await startResourceServer({
      issuer: issuer.issuer,
      config: {
        servers: [
          httpServer('patient', upstream.url),
          // The timeout bounds its session's initialize too: time enough for that on a loaded machine.
          httpServer('impatient', upstream.url, { timeout: 4 }),
          // Time enough to see a caller's places all taken before its calls time out.
          httpServer('hasty', upstream.url, { timeout: 6 }),
          // Time enough for all of a caller's calls to start and be cancelled before the first
          // one's timeout gives its place back, on a loaded machine too.
          stdioServer('ignoring', IGNORING_CANCEL, [], { timeout: 15 }),
          // Longer than any test: only its process exiting gives its places back in time.
          stdioServer('stubborn', IGNORING_CANCEL, [], { timeout: 300 }),
        ],
      },
    });
    // Bounded generously: on a loaded machine the servers take a while to start.
    await waitForServers(server.baseUrl, { patient: 'ready', impatient: 'ready', hasty: 'ready', ignoring: 'ready', stubborn: 'ready' }, 60_000);
  });
  after(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await server?.close();
    await upstream?.close();
    await issuer?.close();
  });

  async function connect(token?: string): Promise<Client> {
    const { client } = await connectAs(server.mcpUrl, token ?? await issuer.mint());
    clients.push(client);
    return client;
  }
  const callsClosedEarly = () => upstream.abandoned.filter((method) => method === 'tools/call').length;
  const seen = (method: string) => upstream.requests.flatMap((request) => request.rpcMethods).filter((m) => m === method).length;
  const userToken = (sub: string) => issuer.mint({ claims: { sub, scope: 'mcp:read' } });

  // [why the call is given up, the server it is made to, the call and its end as the caller sees it]
  const givenUp: Array<[string, string, (client: Client) => Promise<void>]> = [
    ['the caller cancels it', 'patient', async (client) => {
      const controller = new AbortController();
      const call = client.callTool({ name: 'patient__wait-for-cancel', arguments: {} }, undefined, {
        signal: controller.signal,
        // The server says it has started: cancel now, while it runs.
        onprogress: () => controller.abort('the user pressed stop'),
      });
      await assert.rejects(call, /the user pressed stop/);
    }],
    ['it runs past the server\'s timeout', 'impatient', async (client) => {
      const result = await client.callTool({ name: 'impatient__wait-for-cancel', arguments: {} });
      assert.match(errorText(result), /The impatient server did not answer within 4 s/);
    }],
  ];
  for (const [why, name, giveUp] of givenUp) {
    test(`a call given up because ${why} ends its POST to the server, and the caller's next call is answered`, { timeout: 15_000 }, async () => {
      const client = await connect();
      const closedBefore = callsClosedEarly();
      await giveUp(client);
      await waitFor('the server to see the call\'s POST closed', () => callsClosedEarly() === closedBefore + 1, 5000);
      assert.equal(resultText(await client.callTool({ name: `${name}__echo`, arguments: { text: 'next' } })), 'next');
    });
  }

  test('a call past the caller\'s calls in flight is refused at once, unsent; another user\'s goes through; cancelled calls give their places back', async () => {
    const alice = await userToken(randomUUID());
    const waiting = await connect(alice);
    const callsBefore = seen('tools/call');
    const cancelsBefore = seen('notifications/cancelled');
    const stop = new AbortController();
    setMaxListeners(MAX_CALLS_PER_CALLER, stop.signal); // one listener per call
    const calls = Array.from({ length: MAX_CALLS_PER_CALLER }, () => waiting.callTool({ name: 'patient__wait-for-cancel', arguments: {} }, undefined, { signal: stop.signal, timeout: 30_000 }));
    // Should an assertion below fail, the calls end rejected with the session, unawaited.
    for (const call of calls) call.catch(() => {});
    await waitFor('the server to get every call', () => seen('tools/call') === callsBefore + MAX_CALLS_PER_CALLER);

    // From another session of the same user: the places are the user's, not the session's.
    const another = await connect(alice);
    const refused = await another.callTool({ name: 'patient__echo', arguments: { text: 'one more' } });
    assert.match(errorText(refused), new RegExp(`You already have ${MAX_CALLS_PER_CALLER} calls in progress at the patient server.*retry`));
    const bob = await connect(await userToken(randomUUID()));
    assert.equal(resultText(await bob.callTool({ name: 'patient__echo', arguments: { text: 'bob' } })), 'bob');
    assert.equal(seen('tools/call'), callsBefore + MAX_CALLS_PER_CALLER + 1, 'the server got the user\'s calls and bob\'s, not the refused one');

    stop.abort('the user pressed stop');
    for (const call of calls) await assert.rejects(call, /the user pressed stop/);
    // The gateway drops a call (and gives its place back) before it tells the server.
    await waitFor('the server to be told of every cancellation', () => seen('notifications/cancelled') === cancelsBefore + MAX_CALLS_PER_CALLER);
    assert.equal(resultText(await another.callTool({ name: 'patient__echo', arguments: { text: 'again' } })), 'again');
  });

  // Each waits out a server's timeout (6 s, 15 s) or its process's exit, each at a server of its own
  // (hasty over HTTP, the stdio servers ignoring and stubborn), so they wait at once; the cases
  // above count the HTTP server's calls and run before them.
  describe('places held until the server\'s timeout or its process\'s exit', { concurrency: 3 }, () => {
    test('calls the caller hung up on keep their places until the server\'s timeout, then give them back', async () => {
      const carol = await userToken(randomUUID());
      const sessionId = await openSession(server.mcpUrl, carol);
      const callsBefore = seen('tools/call');
      await Promise.all(Array.from({ length: MAX_CALLS_PER_CALLER }, async (_, i) => {
        const response = await mcpRequest(server.mcpUrl, {
          token: carol,
          headers: { 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-11-25' },
          body: { jsonrpc: '2.0', id: 100 + i, method: 'tools/call', params: { name: 'hasty__wait-for-cancel', arguments: {} } },
        });
        await response.body?.cancel(); // hangs up without an answer
      }));
      await waitFor('the server to get every call', () => seen('tools/call') === callsBefore + MAX_CALLS_PER_CALLER);

      const client = await connect(carol);
      const refused = await client.callTool({ name: 'hasty__echo', arguments: { text: 'too soon' } });
      assert.match(errorText(refused), /calls in progress at the hasty server/);
      assert.equal(seen('tools/call'), callsBefore + MAX_CALLS_PER_CALLER);

      // Past the 6 s timeout the calls end and their places are free again.
      const answered = await waitFor('carol to be able to call again', async () => {
        const result = await client.callTool({ name: 'hasty__echo', arguments: { text: 'later' } });
        return result.isError ? undefined : result;
      }, 20_000, 250);
      assert.equal(resultText(answered), 'later');
    });

    /** Calls `slow` at `name` and cancels it once the server says it runs; a refused call is answered. */
    async function startAndCancel(client: Client, name: string): Promise<ToolResult | 'cancelled'> {
      const controller = new AbortController();
      const call = client.callTool({ name: `${name}__slow`, arguments: {} }, undefined, {
        signal: controller.signal,
        onprogress: () => controller.abort('the user pressed stop'),
      });
      return call.catch((err: unknown) => {
        assert.match(String(err), /the user pressed stop/);
        return 'cancelled' as const;
      });
    }
    const isRefused = (result: ToolResult | 'cancelled', name: string) =>
      result !== 'cancelled' && new RegExp(`You already have ${MAX_CALLS_PER_CALLER} calls in progress at the ${name} server.*retry`).test(errorText(result));

    test('cancelling each call as it starts and calling again runs no more than the limit at the server; the places come back after its timeout', async () => {
      const mallory = await connect(await userToken(randomUUID()));
      const ends: Array<ToolResult | 'cancelled'> = [];
      for (let i = 0; i < 40; i += 1) ends.push(await startAndCancel(mallory, 'ignoring'));
      assert.equal(ends.filter((end) => end === 'cancelled').length, MAX_CALLS_PER_CALLER, 'calls the server started');
      assert.ok(ends.slice(MAX_CALLS_PER_CALLER).every((end) => isRefused(end, 'ignoring')), 'the calls past the limit are refused');
      const bob = await connect(await userToken(randomUUID()));
      assert.equal(resultText(await bob.callTool({ name: 'ignoring__running', arguments: {} })), String(MAX_CALLS_PER_CALLER), 'calls running at the server');

      // Past the 15 s timeout the places are free again, though the server may still be at work.
      const answered = await waitFor('mallory to be able to call again', async () => {
        const result = await mallory.callTool({ name: 'ignoring__running', arguments: {} });
        return result.isError ? undefined : result;
      }, 40_000, 250);
      assert.equal(resultText(answered), String(MAX_CALLS_PER_CALLER));
    });

    test('the places of cancelled calls come back at once when the server\'s process exits', async () => {
      const dave = await connect(await userToken(randomUUID()));
      for (let i = 0; i < MAX_CALLS_PER_CALLER; i += 1) assert.equal(await startAndCancel(dave, 'stubborn'), 'cancelled');
      assert.ok(isRefused(await startAndCancel(dave, 'stubborn'), 'stubborn'), 'the call past the limit is refused');

      const bob = await connect(await userToken(randomUUID()));
      await bob.callTool({ name: 'stubborn__exit', arguments: {} }); // a tool error: the process ended
      // Down and restarting, or running again: either way no longer dave's limit.
      await waitFor('dave\'s places to come back with the process', async () => !isRefused(await startAndCancel(dave, 'stubborn'), 'stubborn'));
    });
  });
});
