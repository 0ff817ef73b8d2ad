/**
 * A request past the caller's calls in flight at one server (MAX_CALLS_PER_CALLER, call-budget.ts)
 * is refused before anything is sent, as the caller's own doing that passes when one of its calls
 * ends, never as the server failing:
 * - a tools/call is a tool error saying to retry, audited and counted with the outcome `limited`
 *   (it was `error`, as if the server were down or had failed) and the limit that refused it,
 *   `max_calls_per_caller` (the audit said only `limited`, which process limits say too), which
 *   recent_activity shows;
 * - a prompts/get or resources/read, which have no tool error, is the JSON-RPC error -32600
 *   (Invalid Request) with the same words: it was -32603 (Internal error), the server's fault.
 *
 * The server is the recording upstream (the SDK's McpServer over Streamable HTTP), whose
 * `wait-for-cancel` tool holds a caller's places until the test cancels those calls, and which has
 * a prompt and a resource. The audit is
 * read on both backends: each has a CHECK on the outcomes the table holds.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { MAX_CALLS_PER_CALLER } from '../../apps/resource-server/src/gateway/call-budget.ts';
import { createMetricsRegistry, type Registry } from '../../apps/shared/metrics.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectAs, errorText, waitForServers } from './support/gateway-client.ts';
import { RECORDED_RESOURCE, startRecordingUpstream, type RecordingUpstream } from './support/recording-upstream.ts';
import { httpServer } from './support/upstreams.ts';

const REFUSED = new RegExp(`You already have ${MAX_CALLS_PER_CALLER} calls in progress at the busy server.*retry when one of them has ended\\.$`);

for (const backend of TEST_BACKENDS) {
  describe(`a request past the caller's calls in flight (${backend})`, { timeout: 90_000 }, () => {
    let issuer: TestIssuer;
    let upstream: RecordingUpstream;
    let server: RunningResourceServer;
    let registry: Registry;
    const clients: Client[] = [];

    before(async () => {
      issuer = await startTestIssuer();
      upstream = await startRecordingUpstream();
      registry = createMetricsRegistry('resource-server');
      server = await startResourceServer({ issuer: issuer.issuer, backend, registry, config: { servers: [httpServer('busy', upstream.url)] } });
      await waitForServers(server.baseUrl, { busy: 'ready' });
    });
    after(async () => {
      for (const client of clients) await client.close().catch(() => {});
      await server?.close();
      await upstream?.close();
      await issuer?.close();
    });

    async function connect(claims: Record<string, unknown>): Promise<Client> {
      const { client } = await connectAs(server.mcpUrl, await issuer.mint({ claims }));
      clients.push(client);
      return client;
    }
    const sent = (wanted: string) => upstream.requests.flatMap((request) => request.rpcMethods).filter((method) => method === wanted).length;
    const calls = () => sent('tools/call');

    /** Takes each of `sub`'s places at the server with a call that runs until the returned function cancels it. */
    async function takeEveryPlace(sub: string): Promise<() => Promise<void>> {
      const client = await connect({ sub, scope: 'mcp:read' });
      const before = calls();
      const stop = new AbortController();
      setMaxListeners(MAX_CALLS_PER_CALLER, stop.signal); // one listener per call
      const running = Array.from({ length: MAX_CALLS_PER_CALLER }, () => client.callTool({ name: 'busy__wait-for-cancel', arguments: {} }, undefined, { signal: stop.signal, timeout: 60_000 }));
      for (const call of running) call.catch(() => {});
      await waitFor('the server to get every call', () => calls() === before + MAX_CALLS_PER_CALLER);
      return async () => {
        stop.abort('the test is done with them');
        await Promise.allSettled(running);
      };
    }

    test('a tools/call past it is a tool error saying to retry, audited and counted as limited by max_calls_per_caller, and recent_activity says so', async () => {
      const sub = randomUUID();
      const release = await takeEveryPlace(sub);
      const refused = await (await connect({ sub, scope: 'mcp:read' })).callTool({ name: 'busy__echo', arguments: { text: 'one more' } });
      assert.match(errorText(refused), REFUSED);
      await release();

      await server.audit.flush();
      const rows = await server.db.all<{ outcome: string; limited_by: string | null }>('SELECT outcome, limited_by FROM tool_calls WHERE subject = ? AND tool = ?', [sub, 'busy__echo']);
      assert.deepEqual(rows, [{ outcome: 'limited', limited_by: 'max_calls_per_caller' }]);
      const metric = await registry.getSingleMetric('gatehouse_mcp_tool_calls_total')?.get();
      const limited = metric?.values.filter((value) => value.labels.outcome === 'limited').map((value) => [value.labels.server, value.value]);
      assert.deepEqual(limited, [['busy', 1]]);

      const admin = await connect({ sub: randomUUID(), scope: 'mcp:read mcp:admin' });
      await admin.listTools(); // the client then checks recent_activity's answer against its output schema
      const recent = await admin.callTool({ name: 'recent_activity', arguments: { limit: 200 } });
      const listed = (recent.structuredContent as { calls: Array<{ subject: string; tool: string; outcome: string; limited_by: string | null }> }).calls
        .filter((call) => call.subject === sub && call.tool === 'busy__echo');
      assert.deepEqual(listed.map(({ outcome, limited_by }) => ({ outcome, limited_by })), [{ outcome: 'limited', limited_by: 'max_calls_per_caller' }]);

      // A limit this version does not know, as a newer replica sharing the database may record.
      await server.db.run("UPDATE tool_calls SET limited_by = ? WHERE subject = ? AND outcome = 'limited'", ['max_calls_per_server', sub]);
      const later = await admin.callTool({ name: 'recent_activity', arguments: { limit: 200 } });
      assert.notEqual(later.isError, true, JSON.stringify(later.content));
      const unknown = (later.structuredContent as { calls: Array<{ subject: string; outcome: string; limited_by: string | null }> }).calls
        .filter((call) => call.subject === sub && call.outcome === 'limited');
      assert.deepEqual(unknown.map((call) => call.limited_by), ['max_calls_per_server']);
    });

    const requests: Array<[method: string, send: (client: Client) => Promise<unknown>]> = [
      ['prompts/get', (client) => client.getPrompt({ name: 'busy__greet' })],
      ['resources/read', (client) => client.readResource({ uri: RECORDED_RESOURCE })],
    ];
    for (const [method, send] of requests) {
      test(`a ${method} past it is refused unsent with -32600 (Invalid Request) saying to retry, not -32603 (Internal error)`, async () => {
        const sub = randomUUID();
        const client = await connect({ sub, scope: 'mcp:read' });
        await send(client); // answered while the caller has places free
        const release = await takeEveryPlace(sub);
        const sentBefore = sent(method);
        const refused = await send(client).then(() => assert.fail(`${method} was answered`), (err: unknown) => err);
        await release();
        assert.ok(refused instanceof McpError, String(refused));
        assert.equal(refused.code, ErrorCode.InvalidRequest, refused.message);
        assert.match(refused.message, REFUSED);
        assert.equal(sent(method), sentBefore, 'the server never got it');
        await send(client); // and answered again once the caller's calls have ended
      });
    }
  });
}
