/**
 * What a stdio server process writes reaches the log in bounded pieces: a stderr line is logged
 * cut at 2000 characters as soon as it passes them, and the rest of it is dropped up to its end,
 * so a process that writes without ever ending a line cannot make the gateway hold all of it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createLogger } from '../../apps/shared/logger.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectAs, resultText, waitForServers } from './support/gateway-client.ts';
import { NOISY_STDERR, stdioServer } from './support/upstreams.ts';

describe('a stdio server\'s stderr', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let client: Client;
  const logLines: Array<Record<string, unknown>> = [];
  /** The stderr lines logged for the noisy server, in order. */
  const stderrOf = (name: string) => logLines.filter((line) => line.server === name && typeof line.stderr === 'string').map((line) => line.stderr as string);

  before(async () => {
    issuer = await startTestIssuer();
    const logger = createLogger('resource-server', 'info', { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
    server = await startResourceServer({ issuer: issuer.issuer, logger, config: { servers: [stdioServer('noisy', NOISY_STDERR)] } });
    await waitForServers(server.baseUrl, { noisy: 'ready' });
    client = (await connectAs(server.mcpUrl, await issuer.mint())).client;
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await issuer?.close();
  });

  test('a line that never ends is logged cut at 2000 characters while it is still open, and its rest is dropped', { timeout: 20_000 }, async () => {
    // The server's 1 MiB line has no newline yet: what was kept of it is logged already.
    await waitFor('the open line\'s first 2000 characters in the log', () => stderrOf('noisy').length > 0, 5000);
    assert.deepEqual(stderrOf('noisy'), [`${'x'.repeat(2000)}…`]);

    assert.equal(resultText(await client.callTool({ name: 'noisy__end-line', arguments: {} })), 'ended');
    await waitFor('the line after the long one in the log', () => stderrOf('noisy').includes('after the long line'), 5000);
    assert.deepEqual(stderrOf('noisy'), [`${'x'.repeat(2000)}…`, 'after the long line'], 'the tail of the cut line is dropped, the next line is whole');
  });
});
