/**
 * SIGTERM (what `docker stop`, systemd and Kubernetes send) with a request in flight, against the
 * real app processes: the request still gets its answer, new connections are refused at once,
 * the database is closed cleanly and the process exits 0.
 *
 * "In flight" is a request whose headers have arrived and whose body is still being sent when
 * the signal comes: the server is already working on it, and it can only finish if the server
 * lets it.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLAUDE_DCR_BODY, connect, redeem, registerClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD } from '../helpers/start-auth-server.ts';
import { INITIALIZE, jsonRpcMessageOf } from '../helpers/mcp-http.ts';
import { freshSetup, kill, runApp, waitForOk, waitUntilRefused, type RunningProcess, type Setup } from './support/processes.ts';

interface SlowRequest {
  /** Sends the rest of the body; resolves with the response. */
  finish(): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }>;
}

/**
 * Starts a POST on a fresh connection, sends its headers and half its body, and resolves once the
 * server has parsed the headers and started on the request: it asks `Expect: 100-continue`, and
 * Node's server answers `100 Continue` just as it hands the request to the app (RFC 9110 §10.1.1).
 */
async function startSlowPost(url: string, body: string, headers: Record<string, string>): Promise<SlowRequest> {
  const bytes = Buffer.from(body);
  const half = Math.floor(bytes.length / 2);
  const req = request(url, {
    method: 'POST',
    agent: false,
    headers: { ...headers, 'content-length': String(bytes.length), expect: '100-continue' },
  });
  const started = new Promise((resolve) => req.once('continue', resolve));
  const response = new Promise<{ status: number; headers: IncomingMessage['headers']; body: string }>((resolve, reject) => {
    req.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.once('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.once('error', reject);
  });
  req.flushHeaders();
  req.write(bytes.subarray(0, half));
  await Promise.race([started, response]);
  return {
    finish() {
      req.end(bytes.subarray(half));
      return response;
    },
  };
}

describe('graceful shutdown on SIGTERM (real processes)', () => {
  let setup: Setup;
  let auth: RunningProcess;
  let resource: RunningProcess;
  let accessToken: string;

  before(async () => {
    setup = await freshSetup({ BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD, SHUTDOWN_TIMEOUT: '5s', LOG_LEVEL: 'info' });
    writeFileSync(join(setup.dir, 'gatehouse.yml'), 'auth_server:\n  bcrypt_cost: 10\n');
    setup.env.GATEHOUSE_CONFIG = join(setup.dir, 'gatehouse.yml');
    auth = runApp('auth-server', setup.env);
    resource = runApp('resource-server', setup.env);
    await waitForOk(`${setup.issuer}/readyz`, { proc: auth });
    await waitForOk(`http://127.0.0.1:${setup.resourcePort}/readyz`, { proc: resource });
    const client = await registerClient(setup.issuer);
    const result = await connect(setup.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: setup.mcpUrl, username: 'admin', password: ADMIN_PASSWORD });
    const tokens = await redeem(setup.issuer, client, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    accessToken = tokens.body.access_token as string;
  });
  after(() => {
    kill(auth);
    kill(resource);
    rmSync(setup.dir, { recursive: true, force: true });
  });

  test('the resource-server answers an MCP request in flight, refuses new connections, closes its database, exits 0', async () => {
    const slow = await startSlowPost(setup.mcpUrl, JSON.stringify(INITIALIZE), {
      authorization: `Bearer ${accessToken}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    });
    resource.signal('SIGTERM');
    await waitUntilRefused(setup.resourcePort);

    const response = await slow.finish();
    assert.equal(response.status, 200, response.body);
    assert.equal((jsonRpcMessageOf(response.body).result?.serverInfo as { name: string }).name, 'gatehouse');
    assert.equal(response.headers.connection, 'close', 'the connection is not kept alive while stopping');

    const { code } = await resource.exited;
    assert.equal(code, 0, resource.output());
    assert.match(resource.output(), /"msg":"stopped"/);
    assert.doesNotMatch(resource.output(), /cut off/);
    assert.equal(existsSync(join(setup.dir, 'data', 'resource-server.db-wal')), false, 'the database was closed (SQLite removes the WAL on close)');
  });

  test('the auth-server answers a registration in flight, refuses new connections, closes its database, exits 0', async () => {
    const slow = await startSlowPost(`${setup.issuer}/oauth/register`, JSON.stringify(CLAUDE_DCR_BODY), { 'content-type': 'application/json' });
    auth.signal('SIGTERM');
    await waitUntilRefused(setup.authPort);

    const response = await slow.finish();
    assert.equal(response.status, 201, response.body);
    assert.ok(JSON.parse(response.body).client_id);

    const { code } = await auth.exited;
    assert.equal(code, 0, auth.output());
    assert.match(auth.output(), /"msg":"stopped"/);
    assert.equal(existsSync(join(setup.dir, 'data', 'auth-server.db-wal')), false, 'the database was closed (SQLite removes the WAL on close)');
  });
});
