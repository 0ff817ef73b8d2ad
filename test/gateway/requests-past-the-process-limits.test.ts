/**
 * A request to a per_user server for which no process can be started, at `max_processes` in all
 * or at the user's `max_processes_per_user`, is refused before anything is sent, for want of room
 * that comes back when a process stops, never as the server failing (as a call past the caller's
 * calls in flight is, requests-past-the-callers-limit.test.ts):
 * - a tools/call is a tool error naming the server, the limit and when to retry (it named no
 *   server, nor when for the total), audited and counted with the outcome `limited`
 *   (it was `error`, as if the server were down or had failed), the audit naming the limit
 *   (it said only `limited`, as for the caller's calls in flight);
 * - a prompts/get or resources/read, which have no tool error, is the JSON-RPC error -32600
 *   (Invalid Request) with the same words: it was -32603 (Internal error), the server's fault;
 * - so is a shortened tool or prompt name not learned yet, which only the server's list routes
 *   (it was -32602, not found);
 * - the same request passes once a process has stopped.
 *
 * Two per_user scripted servers: `pa`, the one refused, and `pb`, where the user of the per-user
 * case already has their one process. Another user lists `pa`'s resource templates first (taking
 * a `pa` process), so the gateway knows which server a resource URI is read from.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { createMetricsRegistry, type Registry } from '../../apps/shared/metrics.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { connectAs, errorText, readiness, resultText, waitForServers } from './support/gateway-client.ts';
import { gatewayName, LONG_TOOL_NAME, SCRIPTED, stdioServer } from './support/upstreams.ts';

interface LimitCase {
  limit: string;
  maxProcesses: number;
  maxProcessesPerUser: number;
  /** What the refused user holds already: the per-user case has a `pb` process. */
  occupy: (client: Client) => Promise<void>;
  refused: RegExp;
}

const cases: LimitCase[] = [
  {
    limit: 'max_processes_per_user',
    maxProcesses: 10,
    maxProcessesPerUser: 1,
    occupy: async (client) => { resultText(await client.callTool({ name: 'pb__echo-meta', arguments: {} })); },
    refused: /No process of the pa server can be started for you now: you already have 1 MCP server process running, the per-user limit \(resource_server\.max_processes_per_user\); retry once one has stopped/,
  },
  {
    limit: 'max_processes',
    maxProcesses: 1,
    maxProcessesPerUser: 4,
    occupy: async () => {},
    refused: /No process of the pa server can be started for you now: Gatehouse already runs 1 MCP server process, its limit \(resource_server\.max_processes\); retry once one has stopped/,
  },
];

const requests: Array<[method: string, send: (client: Client) => Promise<unknown>]> = [
  ['prompts/get', (client) => client.getPrompt({ name: 'pa__greet', arguments: { who: 'you' } })],
  ['resources/read', (client) => client.readResource({ uri: 'scripted://note/1' })],
];

for (const { limit, maxProcesses, maxProcessesPerUser, occupy, refused } of cases) {
  describe(`a request to a per_user server past ${limit}`, { timeout: 90_000 }, () => {
    let issuer: TestIssuer;
    let server: RunningResourceServer;
    let registry: Registry;
    // Idle time is counted on it: processes stop when the test says, not while it runs.
    let clock: TestClock;
    let user: Client;
    const sub = randomUUID();
    const clients: Client[] = [];

    async function connect(claims: Record<string, unknown>): Promise<Client> {
      // Issued at the server's time, which stands still from before it started: minted at the
      // wall clock's, a token was refused as issued in the future once starting took over 5 s.
      const { client } = await connectAs(server.mcpUrl, await issuer.mint({ claims: { iat: clock.epochSeconds(), ...claims } }));
      clients.push(client);
      return client;
    }
    const paProcesses = async () => (await readiness(server.baseUrl)).body.servers?.pa?.processes;

    before(async () => {
      issuer = await startTestIssuer();
      registry = createMetricsRegistry('resource-server');
      clock = new TestClock();
      server = await startResourceServer({
        issuer: issuer.issuer,
        clock,
        registry,
        config: {
          maxProcesses,
          maxProcessesPerUser,
          servers: [
            stdioServer('pa', SCRIPTED, [], { perUser: true, idleTimeout: 1 }),
            stdioServer('pb', SCRIPTED, [], { perUser: true, idleTimeout: 1 }),
          ],
        },
      });
      const other = await connect({ sub: randomUUID(), preferred_username: 'other', scope: 'mcp:read' });
      await other.listResourceTemplates();
      assert.equal(await paProcesses(), 1, 'another user\'s pa process');
      user = await connect({ sub, preferred_username: 'refused', scope: 'mcp:read' });
      await occupy(user);
    });
    after(async () => {
      for (const client of clients) await client.close().catch(() => {});
      await server?.close();
      await issuer?.close();
    });

    test('a tools/call is a tool error naming the limit, audited as limited by it and counted as limited, not error', async () => {
      const text = errorText(await user.callTool({ name: 'pa__echo-meta', arguments: {} }));
      assert.match(text, refused);
      assert.equal(await paProcesses(), 1, 'no process was started');

      await server.audit.flush();
      const rows = await server.db.all<{ outcome: string; limited_by: string | null }>('SELECT outcome, limited_by FROM tool_calls WHERE subject = ? AND tool = ?', [sub, 'pa__echo-meta']);
      assert.deepEqual(rows, [{ outcome: 'limited', limited_by: limit }]);
      const metric = await registry.getSingleMetric('gatehouse_mcp_tool_calls_total')?.get();
      const counted = metric?.values.filter((value) => value.labels.server === 'pa').map((value) => [value.labels.outcome, value.value]);
      assert.deepEqual(counted, [['limited', 1]]);
    });

    for (const [method, send] of requests) {
      test(`a ${method} is refused with -32600 (Invalid Request) naming the limit, not -32603 (Internal error)`, async () => {
        const error = await send(user).then(() => assert.fail(`${method} was answered`), (err: unknown) => err);
        assert.ok(error instanceof McpError, String(error));
        assert.equal(error.code, ErrorCode.InvalidRequest, error.message);
        assert.match(error.message, refused);
        assert.equal(await paProcesses(), 1, 'no process was started');
      });
    }

    // Such a name cannot be routed before its server is listed, and no process can list it.
    test('a shortened tool or prompt name not learned yet is refused the same way, not as unknown', async () => {
      const tool = gatewayName('pa', LONG_TOOL_NAME);
      assert.match(errorText(await user.callTool({ name: tool, arguments: {} })), refused);
      await server.audit.flush();
      const rows = await server.db.all<{ outcome: string; limited_by: string | null }>('SELECT outcome, limited_by FROM tool_calls WHERE subject = ? AND tool = ?', [sub, tool]);
      assert.deepEqual(rows, [{ outcome: 'limited', limited_by: limit }]);
      const error = await user.getPrompt({ name: gatewayName('pa', LONG_TOOL_NAME) }).then(() => assert.fail('the prompt was answered'), (err: unknown) => err);
      assert.ok(error instanceof McpError, String(error));
      assert.equal(error.code, ErrorCode.InvalidRequest, error.message);
      assert.match(error.message, refused);
      assert.equal(await paProcesses(), 1, 'no process was started');
    });

    test('the same requests pass once a process has stopped', async () => {
      clock.advance(2);
      await waitForServers(server.baseUrl, { pa: 'idle', pb: 'idle' }, 10_000);
      // An idle process's place comes back once it has exited, a moment after /readyz stops listing it.
      const answered = await waitFor('a retried tools/call to be answered', async () => {
        const result = await user.callTool({ name: 'pa__echo-meta', arguments: {} });
        return result.isError ? undefined : result;
      });
      assert.match(resultText(answered), new RegExp(sub));
      for (const [, send] of requests) await send(user);
      await server.audit.flush();
      const rows = await server.db.all<{ outcome: string; limited_by: string | null }>('SELECT outcome, limited_by FROM tool_calls WHERE subject = ? AND tool = ? AND outcome = ?', [sub, 'pa__echo-meta', 'ok']);
      assert.deepEqual(rows, [{ outcome: 'ok', limited_by: null }], 'a call let through names no limit');
    });
  });
}
