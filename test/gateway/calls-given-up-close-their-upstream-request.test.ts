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
 * The server is the recording upstream (the SDK's McpServer over Streamable HTTP), whose
 * `wait-for-cancel` tool runs until it is cancelled, and which records each POST the gateway
 * closed before its answer ended.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectAs, errorText, resultText, waitForServers } from './support/gateway-client.ts';
import { startRecordingUpstream, type RecordingUpstream } from './support/recording-upstream.ts';
import { httpServer } from './support/upstreams.ts';

describe('an HTTP server\'s call the gateway gives up', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let upstream: RecordingUpstream;
  let server: RunningResourceServer;
  const clients: Client[] = [];

  before(async () => {
    issuer = await startTestIssuer();
    upstream = await startRecordingUpstream();
    server = await startResourceServer({
      issuer: issuer.issuer,
      config: { servers: [httpServer('patient', upstream.url), httpServer('impatient', upstream.url, { timeout: 1 })] },
    });
    await waitForServers(server.baseUrl, { patient: 'ready', impatient: 'ready' });
  });
  after(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await server?.close();
    await upstream?.close();
    await issuer?.close();
  });

  async function connect(): Promise<Client> {
    const { client } = await connectAs(server.mcpUrl, await issuer.mint());
    clients.push(client);
    return client;
  }
  const callsClosedEarly = () => upstream.abandoned.filter((method) => method === 'tools/call').length;

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
      assert.match(errorText(result), /The impatient server.*1 s/);
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
});
