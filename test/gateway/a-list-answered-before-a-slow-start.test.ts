/**
 * A list waits at most min(`timeout`, 10 s) for each server; a server still starting then (a
 * per-user process started by that very list, an `npx -y` wrapper downloading itself: a start may
 * take `start_timeout`) is left out of that answer. Once its items are in, the session is told
 * its tool list changed (notifications/tools/list_changed), so a client that lists once per
 * session reads the list again and finds that server's tools. Without the notice such a client
 * never saw them until it reconnected.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectAs, resultText } from './support/gateway-client.ts';
import { SLOW_START, stdioServer } from './support/upstreams.ts';

/** The server's `timeout`, so how long a list waits for it. */
const TIMEOUT_S = 2;
/** How long its process takes to answer initialize: past the list's wait, within `start_timeout`. */
const START_MS = 5_000;

describe('a list answered while a server is still starting', { timeout: 120_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let client: Client;
  let told = 0;

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({
      issuer: issuer.issuer,
      config: { servers: [stdioServer('mine', SLOW_START, [String(START_MS)], { timeout: TIMEOUT_S, perUser: true })] },
    });
    ({ client } = await connectAs(server.mcpUrl, await issuer.mint({ claims: { scope: 'mcp:read' } })));
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void (told += 1));
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await issuer?.close();
  });

  test('leaves the server out, then tells the session its list changed, and the next list has its tools', { timeout: 90_000 }, async () => {
    // The first list starts this user's process, and answers before the process is ready.
    const first = (await client.listTools()).tools.map((tool) => tool.name);
    assert.ok(!first.some((name) => name.startsWith('mine__')), `left out while starting: ${first.join(', ')}`);
    assert.equal(told, 0, 'nothing changed yet');

    // Bounded generously: on a loaded machine the start takes longer than START_MS.
    await waitFor('notifications/tools/list_changed once the server is ready', () => told > 0, 60_000);
    const again = (await client.listTools()).tools.map((tool) => tool.name);
    assert.ok(again.includes('mine__echo') && again.includes('mine__sleep'), `listed once ready: ${again.join(', ')}`);
    assert.equal(resultText(await client.callTool({ name: 'mine__echo', arguments: { text: 'here' } })), 'here');
  });
});
