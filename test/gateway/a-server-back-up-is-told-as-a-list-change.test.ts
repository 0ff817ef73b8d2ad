/**
 * A server that was down when a session listed (left out of that answer) and comes back (a shared
 * stdio server on a later restart, an HTTP server reachable again): every session is told its
 * lists changed, so a client that lists once per session reads them again and finds that server's
 * tools. Without the notice such a client did not see them until it reconnected.
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
import { freePort } from '../helpers/net.ts';
import { connectAs, resultText, waitForServers } from './support/gateway-client.ts';
import { startEverythingHttp, type RunningHttpUpstream } from './support/start-everything-http.ts';
import { DOWN_WHILE_MARKED, httpServer, stdioServer } from './support/upstreams.ts';

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

describe('an HTTP server reachable again after being down', { timeout: 120_000 }, () => {
  let port: number;
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let upstream: RunningHttpUpstream | undefined;
  const clients: Client[] = [];
  let told = 0;

  before(async () => {
    port = await freePort();
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer, config: { servers: [httpServer('remote', `http://127.0.0.1:${port}/mcp`, { timeout: 5 })] } });
    await waitForServers(server.baseUrl, { remote: 'down' }, 60_000);
  });
  after(async () => {
    for (const client of clients) await client.close();
    await server?.close();
    await upstream?.close();
    await issuer?.close();
  });

  const connect = async () => {
    const { client } = await connectAs(server.mcpUrl, await issuer.mint({ claims: { scope: 'mcp:read' } }));
    clients.push(client);
    return client;
  };

  test('a session that listed while it was down is told its list changed once another reaches it', { timeout: 90_000 }, async () => {
    const early = await connect();
    early.setNotificationHandler(ToolListChangedNotificationSchema, () => void (told += 1));
    const first = (await early.listTools()).tools.map((tool) => tool.name);
    assert.ok(!first.some((name) => name.startsWith('remote__')), `left out while down: ${first.join(', ')}`);

    upstream = await startEverythingHttp(port);
    // Another user's session reaches it first (its list opens a session there).
    const later = await connect();
    assert.ok((await later.listTools()).tools.some((tool) => tool.name === 'remote__echo'), 'reachable again');

    await waitFor('notifications/tools/list_changed at the session that listed while it was down', () => told > 0, 20_000);
    const again = (await early.listTools()).tools.map((tool) => tool.name);
    assert.ok(again.includes('remote__echo'), `listed once reachable: ${again.join(', ')}`);
    assert.equal(resultText(await early.callTool({ name: 'remote__echo', arguments: { message: 'back' } })), 'Echo: back');
  });
});
