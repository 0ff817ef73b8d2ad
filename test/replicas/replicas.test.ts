/**
 * The deployment of the compose "replicas" profile, on this machine: two auth-servers and two
 * resource servers (real processes) on one PostgreSQL database, behind nginx running the shipped
 * round-robin configuration. No sticky sessions: whichever replica a request lands on answers
 * it as the other would.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { run as runGatehouse } from '../../apps/auth-server/src/cli/run.ts';
import { CapturedOutput } from '../cli/support/captured-output.ts';
import { TestOAuthClientProvider } from '../helpers/mcp-oauth-client.ts';
import { connect, redeem, refresh, registerClient, signIn, startAuthorization, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { assertAcknowledgedSurvived, startRefreshLoad } from '../helpers/refresh-load.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { REPLICA_HEADER, startReplicaSet, type ReplicaSet } from './support/replica-set.ts';

const CALLBACK = 'http://127.0.0.1:33418/callback';
const ALICE = { username: 'alice', password: 'alice replicated password' };

async function gatehouse(set: ReplicaSet, args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new CapturedOutput();
  const stderr = new CapturedOutput();
  const code = await runGatehouse(args, { stdin: Readable.from(input ? [input] : []), stdout, stderr }, set.env);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** fetch that remembers which replica answered each request (the test nginx's header). */
function recordingFetch(seen: string[]): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    seen.push(response.headers.get(REPLICA_HEADER) ?? 'none');
    return response;
  };
}

const portOf = (upstream: string) => Number(upstream.split(':').at(-1));

describe('two replicas of each app on one PostgreSQL, behind a round-robin load balancer', { skip: !TEST_BACKENDS.includes('postgres') && 'PostgreSQL is not among GATEHOUSE_TEST_BACKENDS', timeout: 300_000 }, () => {
  let set: ReplicaSet;
  let client: RegisteredClient;

  before(async () => {
    set = await startReplicaSet();
    const added = await gatehouse(set, ['users', 'add', ALICE.username, '--scope', 'mcp:read,mcp:write'], `${ALICE.password}\n`);
    assert.equal(added.code, 0, added.stderr);
    client = await registerClient(set.issuer, { client_name: 'replica test', redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] });
  });
  after(() => set?.close());

  /** Signs alice in through the balancer and redeems the code; returns the tokens. */
  async function tokensFor(scope = 'mcp:read mcp:write') {
    const result = await connect(set.issuer, { clientId: client.client_id, redirectUri: CALLBACK, scope, resource: set.mcpUrl, ...ALICE });
    const tokens = await redeem(set.issuer, client, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    return { accessToken: tokens.body.access_token as string, refreshToken: tokens.body.refresh_token as string };
  }

  test('the MCP SDK client connects end to end (discovery, registration, sign-in, code, tools), its requests spread over both replicas of each app', async () => {
    const seen: string[] = [];
    const app = new TestOAuthClientProvider(CALLBACK);
    assert.equal(await auth(app, { serverUrl: set.mcpUrl, scope: 'mcp:read mcp:write', fetchFn: recordingFetch(seen) }), 'REDIRECT');
    const callback = await app.signInAt(set.issuer, ALICE.username, ALICE.password);
    assert.equal(await auth(app, { serverUrl: set.mcpUrl, authorizationCode: callback.searchParams.get('code')!, fetchFn: recordingFetch(seen) }), 'AUTHORIZED');

    const mcpSeen: string[] = [];
    const mcp = new Client({ name: 'replica-test', version: '1.0.0' });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(set.mcpUrl), { authProvider: app, fetch: recordingFetch(mcpSeen) }));
    const tools = await mcp.listTools();
    assert.ok(tools.tools.some((tool) => tool.name === 'whoami'));
    for (let i = 0; i < 4; i += 1) {
      const note = await mcp.callTool({ name: 'create_note', arguments: { title: `note ${i}`, body: 'written through the balancer' } });
      assert.notEqual(note.isError, true, JSON.stringify(note));
    }
    const listed = await mcp.callTool({ name: 'list_notes', arguments: {} });
    assert.match(JSON.stringify(listed.content), /note 0[\s\S]*note 3|note 3[\s\S]*note 0/, 'every note, whichever replica wrote it');
    await mcp.close();

    const authPorts = new Set(seen.map(portOf));
    assert.ok(set.auth.every((replica) => authPorts.has(replica.port)), `both auth-servers answered the client (${[...authPorts]})`);
    const sessionPorts = mcpSeen.filter((upstream) => upstream !== 'none').map(portOf);
    assert.ok(set.resource.every((replica) => sessionPorts.includes(replica.port)), `both resource servers served the one MCP session (${sessionPorts})`);
    assert.ok(sessionPorts.some((port, i) => i > 0 && port !== sessionPorts[i - 1]), 'consecutive requests of the session landed on different replicas');

    // The flight recorder (issue 18): what the four processes each saw of this connection is one
    // timeline, read by the CLI from the shared database and through the balancer.
    const clientId = app.client!.client_id;
    const attempt = await waitFor('the connection recorded as connected', async () => {
      const listed = await gatehouse(set, ['--json', 'connections', 'list', `--client=${clientId}`]);
      assert.equal(listed.code, 0, listed.stderr);
      const { attempts, problem } = JSON.parse(listed.stdout) as { attempts: Array<{ id: string; outcome: string }>; problem?: string };
      assert.equal(problem, undefined, 'the resource servers\' events were read');
      return attempts.length === 1 && attempts[0]!.outcome === 'connected' ? attempts[0] : undefined;
    });
    const shown = await gatehouse(set, ['--json', 'connections', 'show', '--', attempt.id]);
    assert.equal(shown.code, 0, shown.stderr);
    const { events } = JSON.parse(shown.stdout) as { events: Array<{ app: string; step: string }> };
    const steps = events.map((event) => `${event.app}:${event.step}`);
    // The SDK's auth() starts at discovery, not with an MCP request: no mcp_challenge here.
    for (const step of ['resource-server:resource_metadata', 'auth-server:server_metadata', 'auth-server:registration', 'auth-server:authorization', 'auth-server:sign_in', 'auth-server:consent', 'auth-server:code_exchange', 'resource-server:mcp_request']) {
      assert.ok(steps.includes(step), `${step} in ${steps.join(', ')}`);
    }
  });

  test('the same refresh token sent to both auth-servers at the same instant: one wins, the other gets invalid_grant, and the family is revoked', async () => {
    const { refreshToken } = await tokensFor();
    const [a, b] = await Promise.all(set.auth.map((replica) => refresh(replica.url, client, refreshToken)));
    const statuses = [a!.status, b!.status].sort();
    assert.deepEqual(statuses, [200, 400], `exactly one wins: ${JSON.stringify([a!.body, b!.body])}`);
    const loser = a!.status === 400 ? a! : b!;
    const winner = a!.status === 200 ? a! : b!;
    assert.equal(loser.body.error, 'invalid_grant');
    const next = await refresh(set.issuer, client, winner.body.refresh_token as string);
    assert.equal(next.status, 400, 'a reused refresh token revokes its whole family, the winner\'s new token too');
  });

  test('an MCP session begun on one resource server continues on the other, for its own user only', async () => {
    const { accessToken } = await tokensFor();
    const [first, second] = set.resource;
    const mcp = new Client({ name: 'replica-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${first.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${accessToken}` } } });
    await mcp.connect(transport);
    const sessionId = transport.sessionId!;
    const call = (url: string, token: string) => fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': transport.protocolVersion ?? '2025-11-25', 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
    });
    const onSecond = await call(second.url, accessToken);
    assert.equal(onSecond.status, 200, await onSecond.clone().text());
    assert.match(await onSecond.text(), /alice/);
    const other = await gatehouse(set, ['users', 'add', 'mallory', '--scope', 'mcp:read'], 'mallory password 123\n');
    assert.equal(other.code, 0, other.stderr);
    const mallory = await connect(set.issuer, { clientId: client.client_id, redirectUri: CALLBACK, scope: 'mcp:read', resource: set.mcpUrl, username: 'mallory', password: 'mallory password 123' });
    const malloryToken = (await redeem(set.issuer, client, mallory)).body.access_token as string;
    assert.equal((await call(second.url, malloryToken)).status, 404, 'another user\'s token does not reach the session');
    await mcp.close();
  });

  test('a lockout reached through both auth-servers holds on both', async () => {
    const added = await gatehouse(set, ['users', 'add', 'bob', '--scope', 'mcp:read'], 'bob right password\n');
    assert.equal(added.code, 0, added.stderr);
    /** One sign-in through the balancer: whether it got past the password, and which replica judged it. */
    const attempt = async (password: string) => {
      const { page, browser } = await startAuthorization(set.issuer, { clientId: client.client_id, redirectUri: CALLBACK, scope: 'mcp:read', resource: set.mcpUrl });
      const result = await signIn(browser, page, 'bob', password);
      return { signedIn: !result.html.includes('name="password"'), replica: portOf(result.headers.get(REPLICA_HEADER) ?? '') };
    };
    assert.equal((await attempt('bob right password')).signedIn, true, 'the right password works before the lock');
    // Five failures (the default max_failures) through the balancer, so both replicas count some.
    const judged = new Set<number>();
    for (let i = 0; i < 5; i += 1) {
      const failed = await attempt('wrong password');
      assert.equal(failed.signedIn, false);
      judged.add(failed.replica);
    }
    assert.equal(judged.size, 2, 'the failures were judged by both replicas');
    // The lock is not revealed: the right password is refused like a wrong one, by each replica.
    const refusedBy = new Set<number>();
    for (let i = 0; i < 6 && refusedBy.size < 2; i += 1) {
      const locked = await attempt('bob right password');
      assert.equal(locked.signedIn, false, `replica on port ${locked.replica} refuses the right password while locked`);
      refusedBy.add(locked.replica);
    }
    assert.equal(refusedBy.size, 2, 'both replicas refused it');
  });

  test('a key rotated through one replica signs on the other, and both publish the same key set', async () => {
    const before = await tokensFor();
    const oldKid = decodeProtectedHeader(before.accessToken).kid;
    const rotated = await gatehouse(set, ['--json', 'keys', 'rotate']);
    assert.equal(rotated.code, 0, rotated.stderr);
    for (const replica of set.auth) {
      await waitFor(`${replica.name} signs with the new key`, async () => {
        // Signed in through the balancer (the pages name the public issuer); the code is redeemed at this replica.
        const result = await connect(set.issuer, { clientId: client.client_id, redirectUri: CALLBACK, scope: 'mcp:read', resource: set.mcpUrl, ...ALICE });
        const tokens = await redeem(replica.url, client, result);
        return decodeProtectedHeader(tokens.body.access_token as string).kid !== oldKid ? tokens.body.access_token as string : undefined;
      }, 20_000, 500);
    }
    const [one, two] = await Promise.all(set.auth.map(async (replica) => (await fetch(`${replica.url}/oauth/jwks`)).json()));
    assert.deepEqual(one, two, 'the same JWKS from both');
    const jwks = createRemoteJWKSet(new URL(`${set.auth[1].url}/oauth/jwks`));
    await jwtVerify(before.accessToken, jwks, { issuer: set.issuer });
  });

  test('one auth-server killed with SIGKILL under load: every acknowledged registration and refresh token still works', async () => {
    // Eight chains: each has at most one request in flight when the replica dies, and with
    // round-robin some of them are on the survivor, so tokens are left to check afterwards.
    const tokens: string[] = [];
    for (let i = 0; i < 8; i += 1) tokens.push((await tokensFor('mcp:read')).refreshToken);
    const load = startRefreshLoad(set.issuer, client, tokens, CALLBACK);
    await waitFor('some load', () => load.registered.length >= 4, 30_000);
    set.auth[0].process.signal('SIGKILL');
    const atKill = load.registered.length;
    await waitFor('more load after the kill', () => load.registered.length >= atKill + 8 || load.inDoubt() === tokens.length, 30_000);
    await load.stop();
    await assertAcknowledgedSurvived(set.auth[1].url, client, load);
    await set.restart(set.auth[0]);
  });

  test('on PostgreSQL nothing is written to DATA_DIR or KEYS_DIR', () => {
    for (const dir of [set.env.DATA_DIR!, set.env.KEYS_DIR!]) {
      let entries: string[] = [];
      try {
        entries = readdirSync(dir);
      } catch {
        // never created: as expected
      }
      assert.deepEqual(entries, [], `${dir} stays empty`);
    }
  });
});
