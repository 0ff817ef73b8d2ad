/**
 * stdio server processes (issue 12, behaviour 4): per_user processes are limited per user and in
 * all (past a limit, a call that needs a new process is a tool error naming the limit, while
 * users who have one carry on), and a user's process is stopped after idle_timeout without a call
 * (the next call starts a fresh one).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createLogger } from '../../apps/shared/logger.ts';
import { PerUserStdioUpstream } from '../../apps/resource-server/src/gateway/per-user-stdio-upstream.ts';
import { ProcessBudget } from '../../apps/resource-server/src/gateway/process-budget.ts';
import type { CallContext } from '../../apps/resource-server/src/gateway/upstream.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { connectAs, errorText, readiness, resultText, waitForServers } from './support/gateway-client.ts';
import { EVERYTHING, SCRIPTED, stdioServer } from './support/upstreams.ts';

describe('process limits for per_user servers', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const clients: Client[] = [];

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({
      issuer: issuer.issuer,
      config: {
        maxProcessesPerUser: 1,
        maxProcesses: 2,
        servers: [
          stdioServer('pa', EVERYTHING, ['stdio'], { perUser: true }),
          stdioServer('pb', EVERYTHING, ['stdio'], { perUser: true }),
        ],
      },
    });
  });
  after(async () => {
    for (const client of clients) await client.close();
    await server?.close();
    await issuer?.close();
  });

  const users = new Map<string, Client>();
  async function as(user: string): Promise<Client> {
    let client = users.get(user);
    if (!client) {
      client = (await connectAs(server.mcpUrl, await issuer.mint({ claims: { sub: randomUUID(), preferred_username: user } }))).client;
      users.set(user, client);
      clients.push(client);
    }
    return client;
  }
  const echo = async (user: string, tool: string) => (await as(user)).callTool({ name: tool, arguments: { message: user } });

  test('a user at max_processes_per_user gets a tool error naming the limit for a call that needs another process', { timeout: 20_000 }, async () => {
    assert.equal(resultText(await echo('u1', 'pa__echo')), 'Echo: u1');
    assert.match(errorText(await echo('u1', 'pb__echo')), /limit/i);
    assert.equal(resultText(await echo('u1', 'pa__echo')), 'Echo: u1', 'the process the user has keeps working');
  });

  test('at max_processes in all, a new user\'s first call is a tool error naming the limit; users with a process carry on', { timeout: 20_000 }, async () => {
    assert.equal(resultText(await echo('u2', 'pa__echo')), 'Echo: u2');
    assert.match(errorText(await echo('u3', 'pa__echo')), /limit/i);
    assert.equal(resultText(await echo('u1', 'pa__echo')), 'Echo: u1');
    assert.equal(resultText(await echo('u2', 'pa__echo')), 'Echo: u2');
  });
});

describe('a shared server past max_processes at boot', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let client: Client;

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({
      issuer: issuer.issuer,
      config: { maxProcesses: 1, servers: [stdioServer('first', SCRIPTED), stdioServer('second', SCRIPTED)] },
    });
    await waitForServers(server.baseUrl, { first: 'ready', second: 'down' });
    client = (await connectAs(server.mcpUrl, await issuer.mint({ claims: { sub: randomUUID(), preferred_username: 'caller' } }))).client;
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await issuer?.close();
  });

  test('is unavailable, saying which limit, with no advice to try again: it is not started later', { timeout: 20_000 }, async () => {
    assert.equal(errorText(await client.callTool({ name: 'second__echo-meta', arguments: {} })),
      'The second server is unavailable: Gatehouse already runs 1 MCP server process, its limit (resource_server.max_processes).');
  });
});

describe('idle per_user processes', { timeout: 30_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let client: Client;
  // Idle time is counted on it; the sweep that stops idle processes runs on a real timer.
  let clock: TestClock;

  before(async () => {
    issuer = await startTestIssuer();
    // Set now, not as the file loads: the token's iat is the wall clock's, and must not be ahead of it.
    clock = new TestClock();
    server = await startResourceServer({
      issuer: issuer.issuer,
      clock,
      config: { servers: [stdioServer('scratch', SCRIPTED, [], { perUser: true, idleTimeout: 1 })] },
    });
    client = (await connectAs(server.mcpUrl, await issuer.mint({ claims: { sub: randomUUID(), preferred_username: 'idler' } }))).client;
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await issuer?.close();
  });

  test('a user\'s process is stopped after idle_timeout without a call, and the next call starts a fresh one', { timeout: 20_000 }, async () => {
    // add-tool counts in the process's memory: added-1 again means a new process.
    assert.equal(resultText(await client.callTool({ name: 'scratch__add-tool', arguments: {} })), 'added-1');
    assert.equal(resultText(await client.callTool({ name: 'scratch__add-tool', arguments: {} })), 'added-2', 'the same process while in use');
    assert.equal((await readiness(server.baseUrl)).body.servers?.scratch?.state, 'ready');
    clock.advance(1);
    await waitForServers(server.baseUrl, { scratch: 'idle' }, 10_000);
    assert.equal(resultText(await client.callTool({ name: 'scratch__add-tool', arguments: {} })), 'added-1', 'a fresh process');
  });
});

describe('a per_user process still starting', () => {
  test('is not stopped as idle, however long its start takes: the call waiting for it gets its answer', { timeout: 20_000 }, async () => {
    const clock = new TestClock();
    const upstream = new PerUserStdioUpstream(stdioServer('scratch', SCRIPTED, [], { perUser: true, idleTimeout: 1 }), {
      budget: new ProcessBudget(10, 10),
      logger: createLogger('resource-server', 'silent'),
      onListChanged: () => {},
      clock,
    });
    try {
      const caller = { extra: { subject: randomUUID(), username: 'slow-starter' } } as unknown as CallContext['caller'];
      const connecting = upstream.connectionFor({ sessionKey: 'session', caller });
      // The idle sweep comes round while the process is still starting, long after the call came.
      clock.advance(60);
      upstream.stopIdle();
      const connection = await connecting;
      assert.equal(connection.closed, false);
    } finally {
      await upstream.close();
    }
  });
});
