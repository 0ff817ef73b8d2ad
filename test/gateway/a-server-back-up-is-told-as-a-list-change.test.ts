/**
 * A shared stdio server that was down when a session listed (left out of that answer) and comes
 * back on a later restart: every session is told its lists changed, so a client that lists once
 * per session reads them again and finds that server's tools. Without the notice such a client did
 * not see them until it reconnected.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectAs, resultText, waitForServers } from './support/gateway-client.ts';
import { DOWN_WHILE_MARKED, stdioServer } from './support/upstreams.ts';

describe('a shared server back up after being down', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-down-while-marked-'));
  const marker = join(dir, 'down');
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let client: Client;
  let told = 0;

  before(async () => {
    writeFileSync(marker, '');
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer, config: { servers: [stdioServer('flaky', DOWN_WHILE_MARKED, [marker])] } });
    await waitForServers(server.baseUrl, { flaky: 'down' }, 60_000);
    ({ client } = await connectAs(server.mcpUrl, await issuer.mint({ claims: { scope: 'mcp:read' } })));
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void (told += 1));
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await issuer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('is left out while down, then the session is told its list changed, and the next list has its tools', { timeout: 90_000 }, async () => {
    const first = (await client.listTools()).tools.map((tool) => tool.name);
    assert.ok(!first.some((name) => name.startsWith('flaky__')), `left out while down: ${first.join(', ')}`);
    assert.equal(told, 0, 'nothing changed yet');

    rmSync(marker);
    // Its next restart (backoff doubling from 0.5 s) starts it; bounded generously.
    await waitFor('notifications/tools/list_changed once the server is back', () => told > 0, 60_000);
    await waitForServers(server.baseUrl, { flaky: 'ready' }, 10_000);
    const again = (await client.listTools()).tools.map((tool) => tool.name);
    assert.ok(again.includes('flaky__echo'), `listed once back: ${again.join(', ')}`);
    assert.equal(resultText(await client.callTool({ name: 'flaky__echo', arguments: { text: 'back' } })), 'back');
  });
});
