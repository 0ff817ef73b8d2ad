/**
 * What one upstream MCP server lists or asks must not take down the gateway for everyone, nor grow
 * its memory or its log without bound (each reproduced by a review with a real SDK server):
 * - a tool schema nested 1,200 levels (tens of kB) made every caller's tools/list fail with
 *   "Maximum call stack size exceeded", the built-in tools and every other server's with it;
 * - elicitation (and sampling) requests were relayed to the caller without any limit: 300 of
 *   1 MB sent at once to a caller that did not read took the heap from 27 to 600 MB (and a limit
 *   on all of a call's requests would refuse a sampling loop, which resends the conversation);
 * - every shortened tool name was remembered for ever and logged once each: a server listing
 *   thousands of new long names after each list change grew the heap and the log without end;
 * - GET /gateway/servers described every tool of every server: one listing thousands made it
 *   longer than the 1 MiB the admin page reads, and the page lost every server's state.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { createLogger } from '../../apps/shared/logger.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { connectAs, resultText, waitForServers } from './support/gateway-client.ts';
import { HOSTILE_LISTS_SERVER, LONG_LIST, stdioServer } from './support/upstreams.ts';

/** What the gateway relays of one call's requests to the caller (create-mcp-server.ts). */
const AT_ONCE = 8;
const PER_CALL = 8 * 1024 * 1024;

describe('an upstream that lists or asks too much', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const warnings: Array<Record<string, unknown>> = [];
  const clients: Client[] = [];
  before(async () => {
    issuer = await startTestIssuer();
    const logger = createLogger('resource-server', 'warn', { write: (line: string) => warnings.push(JSON.parse(line) as Record<string, unknown>) });
    server = await startResourceServer({
      issuer: issuer.issuer,
      logger,
      config: {
        servers: [
          stdioServer('deep', HOSTILE_LISTS_SERVER, ['deep-schema', '1200']),
          stdioServer('long', HOSTILE_LISTS_SERVER, ['rotating-long-names', '50']),
          stdioServer('asking', HOSTILE_LISTS_SERVER),
          stdioServer('many', LONG_LIST, ['3', '400']),
        ],
      },
    });
    await waitForServers(server.baseUrl, { deep: 'ready', long: 'ready', asking: 'ready', many: 'ready' });
  });
  after(async () => {
    for (const client of clients) await client.close();
    await server?.close();
    await issuer?.close();
  });

  async function connect(capabilities = {}): Promise<Client> {
    const { client } = await connectAs(server.mcpUrl, await issuer.mint(), { capabilities });
    clients.push(client);
    return client;
  }

  test('a tool schema nested 1,200 levels: tools/list still answers, with every server\'s tools and the built-in ones', async () => {
    const names = (await (await connect()).listTools()).tools.map((tool) => tool.name);
    for (const name of ['whoami', 'deep__plain', 'deep__deep', 'asking__ask-at-once']) assert.ok(names.includes(name), `${name} in ${names.length} tools`);
  });

  test('new long names at every list: at most one warning per list, with a few examples, not one per name', async () => {
    const client = await connect();
    const shortened = () => warnings.filter((w) => w.server === 'long' && String(w.msg).includes('shortened'));
    const before = shortened().length;
    for (let i = 0; i < 5; i += 1) {
      const listed = (await client.listTools()).tools.filter((tool) => tool.name.startsWith('long__'));
      assert.equal(listed.length, 50);
    }
    const added = shortened().slice(before);
    assert.ok(added.length <= 5, `${added.length} warnings for 5 lists of 50 shortened names`);
    for (const warning of added) {
      assert.equal(warning.count, 50);
      assert.equal((warning.first as unknown[]).length, 3);
    }
    assert.ok(shortened().length >= 1, 'the shortening is logged');
  });

  test(`elicitations sent at once: ${AT_ONCE} reach the client, the rest are refused at once with a reason`, async () => {
    const client = await connect({ elicitation: {} });
    let received = 0;
    // The client holds every question unanswered, as one that does not read would.
    client.setRequestHandler(ElicitRequestSchema, () => {
      received += 1;
      return new Promise<never>(() => {});
    });
    const result = await client.callTool({ name: 'asking__ask-at-once', arguments: { count: 30, held: AT_ONCE } }, undefined, { timeout: 20_000 });
    assert.match(resultText(result), new RegExp(`^refused ${30 - AT_ONCE}: .*Gatehouse relays at most ${AT_ONCE} requests of one call to the client at once$`));
    assert.equal(received, AT_ONCE);
  });

  test('large elicitations at once: those that fit in 8 MiB reach the client, the rest are refused', async () => {
    const client = await connect({ elicitation: {} });
    let received = 0;
    client.setRequestHandler(ElicitRequestSchema, () => {
      received += 1;
      return new Promise<never>(() => {});
    });
    const size = 2_000_000;
    const fits = Math.floor(PER_CALL / (size + 100));
    const result = await client.callTool({ name: 'asking__ask-at-once', arguments: { count: fits + 2, held: fits, size } }, undefined, { timeout: 20_000 });
    assert.match(resultText(result), /^refused 2: .*Gatehouse relays at most 8388608 characters of requests waiting for the client/);
    assert.equal(received, fits);
  });

  test('large elicitations one after another, each answered: all reach the client (an answered one no longer counts)', async () => {
    const client = await connect({ elicitation: {} });
    let received = 0;
    client.setRequestHandler(ElicitRequestSchema, () => {
      received += 1;
      return { action: 'decline' as const };
    });
    const count = Math.ceil(PER_CALL / 1_000_000) + 4;
    const result = await client.callTool({ name: 'asking__ask-one-by-one', arguments: { count, size: 1_000_000 } }, undefined, { timeout: 60_000 });
    assert.equal(resultText(result), `answered ${count}, refused 0`);
    assert.equal(received, count);
  });

  test('a server listing 1,200 tools: the servers endpoint describes the first 200 and counts the rest', async () => {
    await (await connect()).listTools();
    const response = await fetch(`${server.baseUrl}/gateway/servers`, { headers: { authorization: `Bearer ${await issuer.mint({ claims: { scope: 'mcp:admin' } })}` } });
    assert.equal(response.status, 200);
    const { servers } = await response.json() as { servers: Array<{ name: string; tools?: Array<{ name: string }>; moreTools?: number }> };
    const many = servers.find((described) => described.name === 'many');
    assert.equal(many?.tools?.length, 200);
    assert.equal(many?.tools?.[0]?.name, 'many__tool-0-0');
    assert.equal(many?.moreTools, 1000);
    assert.equal(servers.find((described) => described.name === 'asking')?.moreTools, undefined, 'a short list is described whole');
  });
});
