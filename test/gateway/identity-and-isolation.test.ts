/**
 * What a stdio server learns about the caller (issue 12, behaviour 3), and per_user isolation
 * (behaviour 4):
 * - every request carries `_meta["gatehouse/user"]` = { sub, username, scopes, client_id }, set
 *   by the gateway from the verified token, whatever the caller put there;
 * - a per_user process also has GATEHOUSE_USER_SUB and GATEHOUSE_USERNAME in its environment;
 * - no process gets Gatehouse's own environment: only the MCP SDK's minimal default, the
 *   configured `env` and, per user, those two (a canary variable set in this test process must
 *   not show up);
 * - two users get two server-memory processes: what one creates, the other does not see.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { connectAs, resultText, errorText, waitForServers } from './support/gateway-client.ts';
import { EVERYTHING, MEMORY, SCRIPTED, stdioServer } from './support/upstreams.ts';

const CANARY = 'GATEHOUSE_TEST_CANARY_SECRET';
/** What the MCP SDK's stdio transport passes on by default (getDefaultEnvironment, POSIX). */
const SDK_DEFAULT_ENV = ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER'];

describe('the caller\'s identity reaches stdio servers in _meta and, per user, in the environment; nothing else does', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let memoryDir: string;
  const clients: Client[] = [];
  const alice = { sub: randomUUID(), preferred_username: 'alice', client_id: 'claude-desktop', scope: 'mcp:read mcp:write' };
  const bob = { sub: randomUUID(), preferred_username: 'bob', client_id: 'claude-code', scope: 'mcp:read' };

  before(async () => {
    process.env[CANARY] = 'must-not-leak';
    memoryDir = mkdtempSync(join(tmpdir(), 'gatehouse-gw-memory-'));
    issuer = await startTestIssuer();
    server = await startResourceServer({
      issuer: issuer.issuer,
      config: {
        servers: [
          stdioServer('scripted', SCRIPTED),
          stdioServer('shared-env', EVERYTHING, ['stdio'], { env: { CONFIGURED: 'shared' } }),
          stdioServer('own-env', EVERYTHING, ['stdio'], { perUser: true, env: { CONFIGURED: 'per-user' } }),
          // server-memory reads its file on every call, so isolation needs one file per user as
          // well as one process: the user's own GATEHOUSE_USER_SUB names it, as an operator would.
          {
            ...stdioServer('memory', MEMORY),
            command: '/bin/sh',
            args: ['-c', 'MEMORY_FILE_PATH="$MEMORY_DIR/$GATEHOUSE_USER_SUB.jsonl" exec "$NODE_BIN" "$MEMORY_JS"'],
            env: { MEMORY_DIR: memoryDir, NODE_BIN: process.execPath, MEMORY_JS: MEMORY },
            perUser: true,
          },
        ],
      },
    });
    await waitForServers(server.baseUrl, { scripted: 'ready', 'shared-env': 'ready' });
  });
  after(async () => {
    delete process.env[CANARY];
    for (const client of clients) await client.close();
    await server?.close();
    await issuer?.close();
    rmSync(memoryDir, { recursive: true, force: true });
  });

  async function as(claims: Record<string, unknown>): Promise<Client> {
    const { client } = await connectAs(server.mcpUrl, await issuer.mint({ claims }));
    clients.push(client);
    return client;
  }

  async function envOf(client: Client, tool: string): Promise<Record<string, string>> {
    return JSON.parse(resultText(await client.callTool({ name: tool, arguments: {} }))) as Record<string, string>;
  }

  test('each request carries _meta["gatehouse/user"] with the token\'s sub, username, scopes and client_id', { timeout: 15_000 }, async () => {
    for (const user of [alice, bob]) {
      const client = await as(user);
      const { meta } = (await client.callTool({ name: 'scripted__echo-meta', arguments: {} })).structuredContent as { meta: Record<string, unknown> };
      assert.deepEqual(meta['gatehouse/user'], { sub: user.sub, username: user.preferred_username, scopes: user.scope.split(' '), client_id: user.client_id });
    }
  });

  // What a caller may try to put in _meta itself; the gateway's value wins every time.
  const forgeries: Array<[string, unknown]> = [
    ['another user\'s identity', { sub: 'someone-else', username: 'root', scopes: ['mcp:admin'], client_id: 'x' }],
    ['a string', 'admin'],
    ['null', null],
    ['an array', [{ sub: 'someone-else' }]],
  ];
  for (const [what, forged] of forgeries) {
    test(`a caller cannot forge gatehouse/user in _meta (${what})`, { timeout: 15_000 }, async () => {
      const client = await as(bob);
      const result = await client.callTool({ name: 'scripted__echo-meta', arguments: {}, _meta: { 'gatehouse/user': forged } as Record<string, unknown> });
      const { meta } = result.structuredContent as { meta: Record<string, unknown> };
      assert.deepEqual(meta['gatehouse/user'], { sub: bob.sub, username: 'bob', scopes: ['mcp:read'], client_id: 'claude-code' });
    });
  }

  test('a per_user process has the user in GATEHOUSE_USER_SUB and GATEHOUSE_USERNAME, and each user has their own', { timeout: 20_000 }, async () => {
    const aliceEnv = await envOf(await as(alice), 'own-env__get-env');
    const bobEnv = await envOf(await as(bob), 'own-env__get-env');
    assert.equal(aliceEnv.GATEHOUSE_USER_SUB, alice.sub);
    assert.equal(aliceEnv.GATEHOUSE_USERNAME, 'alice');
    assert.equal(bobEnv.GATEHOUSE_USER_SUB, bob.sub);
    assert.equal(bobEnv.GATEHOUSE_USERNAME, 'bob');
    assert.equal(aliceEnv.CONFIGURED, 'per-user');
  });

  test('a process gets only the SDK\'s minimal environment and its configured env, never Gatehouse\'s own', { timeout: 20_000 }, async () => {
    assert.equal(process.env[CANARY], 'must-not-leak', 'the canary is set in the gateway\'s process');
    const shared = await envOf(await as(alice), 'shared-env__get-env');
    const own = await envOf(await as(alice), 'own-env__get-env');
    for (const [env, allowed] of [[shared, [...SDK_DEFAULT_ENV, 'CONFIGURED']], [own, [...SDK_DEFAULT_ENV, 'CONFIGURED', 'GATEHOUSE_USER_SUB', 'GATEHOUSE_USERNAME']]] as const) {
      assert.equal(env[CANARY], undefined, 'the canary did not leak');
      const extra = Object.keys(env).filter((key) => !allowed.includes(key));
      assert.deepEqual(extra, [], `only the allowed variables (found ${Object.keys(env).join(', ')})`);
    }
    assert.equal(shared.CONFIGURED, 'shared');
    assert.equal(shared.GATEHOUSE_USER_SUB, undefined, 'a shared process is nobody\'s in particular');
  });

  test('per_user server-memory: two users get two processes, and one cannot see the other\'s graph', { timeout: 20_000 }, async () => {
    const aliceClient = await as(alice);
    const bobClient = await as(bob);
    resultText(await aliceClient.callTool({
      name: 'memory__create_entities',
      arguments: { entities: [{ name: 'Alice private project', entityType: 'project', observations: ['due Friday'] }] },
    }));
    const aliceGraph = resultText(await aliceClient.callTool({ name: 'memory__read_graph', arguments: {} }));
    assert.match(aliceGraph, /Alice private project/);
    const bobGraph = resultText(await bobClient.callTool({ name: 'memory__read_graph', arguments: {} }));
    assert.doesNotMatch(bobGraph, /Alice private project/);
    const found = resultText(await bobClient.callTool({ name: 'memory__search_nodes', arguments: { query: 'Alice' } }));
    assert.doesNotMatch(found, /Alice private project/);
    assert.ok(existsSync(join(memoryDir, `${alice.sub}.jsonl`)), 'alice\'s process wrote alice\'s file');
    resultText(await bobClient.callTool({
      name: 'memory__create_entities',
      arguments: { entities: [{ name: 'Bob notes', entityType: 'note', observations: [] }] },
    }));
    assert.ok(existsSync(join(memoryDir, `${bob.sub}.jsonl`)), 'bob\'s own process wrote bob\'s own file');
    assert.doesNotMatch(resultText(await aliceClient.callTool({ name: 'memory__read_graph', arguments: {} })), /Bob notes/);
  });

  // A service account (client credentials, RFC 9068 §2.2: sub = client_id) is no user: the
  // gateway forwards no identity for it (README, "Forwarded identity").
  const service = { sub: 'svc-nightly-report', client_id: 'svc-nightly-report', gatehouse_service: 'Nightly report', scope: 'mcp:read mcp:write' };

  test('a service account\'s calls to a stdio server carry no gatehouse/user, and it still gets its answer', { timeout: 15_000 }, async () => {
    const client = await as(service);
    const { meta } = (await client.callTool({ name: 'scripted__echo-meta', arguments: {} })).structuredContent as { meta: Record<string, unknown> };
    assert.equal(meta['gatehouse/user'], undefined);
    const forged = await client.callTool({ name: 'scripted__echo-meta', arguments: {}, _meta: { 'gatehouse/user': { sub: bob.sub } } as Record<string, unknown> });
    assert.equal((forged.structuredContent as { meta: Record<string, unknown> }).meta['gatehouse/user'], undefined, 'nor one it forged');
  });

  test('a per_user server is unavailable to a service account: a tool error, and no process started for it', { timeout: 15_000 }, async () => {
    const client = await as(service);
    assert.match(errorText(await client.callTool({ name: 'own-env__get-env', arguments: {} })), /service account is no user/);
    assert.ok(!existsSync(join(memoryDir, `${service.sub}.jsonl`)));
    assert.match(errorText(await client.callTool({ name: 'memory__read_graph', arguments: {} })), /service account is no user/);
    assert.ok(!existsSync(join(memoryDir, `${service.sub}.jsonl`)), 'no memory process ran as the service');
  });
});
