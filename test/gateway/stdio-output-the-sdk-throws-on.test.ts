/**
 * A stdio server's answer to an id nobody asked for, nested deep: the MCP SDK's Protocol throws on it
 * (JSON.stringify of the response overflows the stack), and thrown from the gateway's stdout listener
 * it ended the whole resource server. The call after it is answered, and the server stays up.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createLogger } from '../../apps/shared/logger.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { connectAs, resultText, waitForServers } from './support/gateway-client.ts';
import { stdioServer } from './support/upstreams.ts';

const DEEP = fileURLToPath(new URL('./fixtures/deep-nesting-server.mjs', import.meta.url));

describe('a stdio server writing what the MCP SDK throws on', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let client: Client;
  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer, logger: createLogger('resource-server', 'error'), config: { servers: [stdioServer('deep', DEEP)] } });
    await waitForServers(server.baseUrl, { deep: 'ready' });
    client = (await connectAs(server.mcpUrl, await issuer.mint())).client;
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await issuer?.close();
  });
  test('the call is answered and the gateway keeps running', async () => {
    assert.equal(resultText(await client.callTool({ name: 'deep__boom', arguments: {} })), 'after');
    assert.equal((await fetch(`${server.baseUrl}/readyz`)).status, 200);
  });
});
