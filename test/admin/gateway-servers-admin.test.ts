/**
 * The "MCP servers" admin page, with the real auth-server and resource-server side by side: the
 * page reads the resource server's /gateway/servers with a token the auth-server mints for the
 * signed-in admin, and shows each server's kind, state, processes, default scope and tools with
 * their scopes. A non-admin never sees it; a resource server that is stopped, refuses or answers
 * nonsense makes the page say so in words (200), never a 5xx or a stack trace.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import type { GatewayServerConfig } from '../../apps/shared/config/gateway-servers.ts';
import { PROJECT_ROOT } from '../../apps/shared/project-root.ts';
import type { Browser, PageResult } from '../helpers/browser.ts';
import { freePort } from '../helpers/net.ts';
import { assertNoStackTrace, connect, redeem, registerClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { STEERING } from '../helpers/steering-characters.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectClient } from '../helpers/mcp-http.ts';
import { LONG_LIST } from '../gateway/support/upstreams.ts';
import { createUser, rotateFrom, signInAt } from './support/admin-browser.ts';

const MEMORY_SERVER = join(PROJECT_ROOT, 'node_modules', '@modelcontextprotocol', 'server-memory', 'dist', 'index.js');
const READER_PASSWORD = 'reader password 123';

/** The page's text without tags, whitespace folded: what a person reads. */
function textOf(page: PageResult): string {
  return page.html.replace(/<[^>]*>/g, ' ').replace(/&#39;/g, '\'').replace(/&#92;/g, '\\').replace(/\s+/g, ' ');
}

/** The table row of one server, as text. */
function rowOf(page: PageResult, server: string): string {
  const row = page.html.split('<tr>').find((cells) => cells.includes(`<strong>${server}</strong>`));
  assert.ok(row, `a row for ${server} on the page:\n${textOf(page).slice(0, 800)}`);
  return row.replace(/<[^>]*>/g, ' ').replace(/&#92;/g, '\\').replace(/\s+/g, ' ');
}

describe('admin page: MCP servers behind the gateway', () => {
  let auth: TestAuthServer;
  let resource: { mcpUrl: string; close(): Promise<void> } | undefined;
  let admin: { browser: Browser; page: PageResult };

  before(async () => {
    const port = await freePort();
    const unreachablePort = await freePort();
    auth = await startAuthServer({ env: { RESOURCE_URL: `http://127.0.0.1:${port}/mcp` } });
    const servers: GatewayServerConfig[] = [
      {
        name: 'memory', transport: 'stdio', command: process.execPath, args: [MEMORY_SERVER],
        env: { MEMORY_FILE_PATH: join(auth.dir, 'memory.jsonl') }, perUser: false, idleTimeout: 600, timeout: 30, startTimeout: 60,
        scopes: { default: 'mcp:read', tools: { create_entities: 'mcp:write' } },
      },
      {
        name: 'graph', transport: 'stdio', command: process.execPath, args: [MEMORY_SERVER],
        env: { MEMORY_FILE_PATH: join(auth.dir, 'graph.jsonl') }, perUser: true, idleTimeout: 600, timeout: 30, startTimeout: 60,
        scopes: { default: 'mcp:write', tools: {} },
      },
      {
        name: 'many', transport: 'stdio', command: process.execPath, args: [LONG_LIST, '3', '400'],
        env: {}, perUser: false, idleTimeout: 600, timeout: 30, startTimeout: 60, scopes: { default: 'mcp:read', tools: {} },
      },
      {
        name: 'vendor', transport: 'http', url: `http://127.0.0.1:${unreachablePort}/mcp`, headers: {}, forwardIdentity: false, timeout: 2, startTimeout: 60,
        scopes: { default: 'mcp:admin', tools: {} },
      },
    ];
    resource = await startResourceServerBeside(auth, { configure: (config) => { config.servers = servers; } });
    await createUser(auth, 'reader', READER_PASSWORD, ['mcp:read']);
    admin = await signInAt(auth, 'admin', ADMIN_PASSWORD, '/admin/servers');
  });
  after(async () => {
    await resource?.close();
    await auth?.close();
  });

  /** Reloads the page until `ready(page)` holds (the shared process starts at boot). */
  function pageWhen(what: string, ready: (page: PageResult) => boolean): Promise<PageResult> {
    return waitFor(`the servers page to show ${what}`, async () => {
      const page = await admin.browser.navigate('/admin/servers');
      return ready(page) ? page : undefined;
    });
  }

  test('an admin sees each server with its kind, state, processes and default scope, and is told tools appear after the first list', async () => {
    const page = await pageWhen('memory ready', (p) => rowOf(p, 'memory').includes(' ready '));
    assert.equal(page.status, 200);
    assert.match(page.html, /<a href="\/admin\/servers" aria-current="page">MCP servers<\/a>/, 'a navigation entry, current');
    assert.match(rowOf(page, 'memory'), / memory stdio ready 1 mcp:read Tools appear after the first list/);
    assert.match(rowOf(page, 'graph'), / graph stdio per user idle 0 mcp:write Tools appear after the first list/);
    const vendor = rowOf(page, 'vendor');
    assert.match(vendor, / vendor HTTP down /);
    assert.match(vendor, /cannot reach it \(ECONNREFUSED\)/, 'the reason it is down');
    assert.match(vendor, / mcp:admin /);
    assertNoStackTrace(page.html, 'the servers page');
  });

  test('after a client lists the tools, each appears with the scope it needs', async () => {
    const client = await registerClient(auth.issuer);
    const result = await connect(auth.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: resource!.mcpUrl, username: 'admin', password: ADMIN_PASSWORD });
    const tokens = await redeem(auth.issuer, client, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const { client: mcp } = await connectClient(resource!.mcpUrl, tokens.body.access_token as string);
    try {
      const { tools } = await mcp.listTools();
      assert.ok(tools.some((tool) => tool.name === 'memory__create_entities'));
    } finally {
      await mcp.close();
    }

    const row = rowOf(await admin.browser.navigate('/admin/servers'), 'memory');
    assert.match(row, / memory__create_entities mcp:write /);
    assert.match(row, / memory__read_graph mcp:read /);
    assert.doesNotMatch(row, /Tools appear after the first list/);
    // A server listing 1,200 tools: the first 200 and a count (one such server made the
    // description too long to read, and the page lost every server's state).
    const many = rowOf(await admin.browser.navigate('/admin/servers'), 'many');
    assert.match(many, / many__tool-0-0 mcp:read /);
    assert.match(many, / and 1000 more /);
    assert.match(rowOf(await admin.browser.navigate('/admin/servers'), 'memory'), / memory stdio ready /, 'the other servers are still described');
  });

  test('a signed-in user without mcp:admin gets 403 and sees no server', async () => {
    const { browser, page } = await signInAt(auth, 'reader', READER_PASSWORD, '/account');
    assert.equal(page.status, 200);
    assert.doesNotMatch(page.html, /href="\/admin\/servers"/, 'no navigation entry');
    const response = await browser.request('/admin/servers');
    assert.equal(response.status, 403);
    const body = await response.text();
    assert.doesNotMatch(body, /memory|vendor|<table/);
  });

  test('with the resource server stopped, the page (200) says it cannot reach it, without a stack trace', async () => {
    await resource!.close();
    resource = undefined;
    const page = await admin.browser.navigate('/admin/servers');
    assert.equal(page.status, 200);
    assert.match(textOf(page), /Gatehouse could not get the MCP servers from the resource server at http:\/\/127\.0\.0\.1:\d+\/gateway\/servers: the connection was refused \(is it running\?\)\./);
    assert.doesNotMatch(page.html, /<table/);
    assertNoStackTrace(page.html, 'the servers page');
  });
});

describe('admin page: MCP servers, when the status URI answers something else', () => {
  type Behaviour = (res: import('node:http').ServerResponse) => void;
  let behaviour: Behaviour;
  let received: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  let fake: Server;
  let fakeUrl: string;
  let auth: TestAuthServer;
  let admin: { browser: Browser; page: PageResult };

  before(async () => {
    fake = createServer((req, res) => {
      received.push({ url: req.url ?? '', headers: req.headers });
      behaviour(res);
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    auth = await startAuthServer({ env: { GATEWAY_STATUS_URI: `${fakeUrl}/status/servers` } });
    admin = await signInAt(auth, 'admin', ADMIN_PASSWORD, '/account');
  });
  after(async () => {
    fake?.closeAllConnections();
    await new Promise((resolve) => fake?.close(resolve));
    await auth?.close();
  });

  const json = (status: number, body: unknown, headers: Record<string, string> = {}): Behaviour => (res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const server = (overrides: Record<string, unknown> = {}) => ({
    name: 'files', transport: 'stdio', perUser: false, state: 'ready', processes: 1,
    scopes: { default: 'mcp:read', tools: {} }, ...overrides,
  });

  test('the token sent is an RS256 at+jwt for the resource, naming the admin and Gatehouse, with mcp:admin only, for 60 seconds', async () => {
    behaviour = json(200, { servers: [server()] });
    received = [];
    const page = await admin.browser.navigate('/admin/servers');
    assert.equal(page.status, 200);
    assert.equal(received.length, 1);
    assert.equal(received[0]!.url, '/status/servers');
    const token = /^Bearer (.+)$/.exec(received[0]!.headers.authorization ?? '')?.[1];
    assert.ok(token, 'a bearer token');
    assert.equal(received[0]!.headers.cookie, undefined, 'no cookie of the admin\'s');
    const jwks = await (await fetch(`${auth.issuer}/oauth/jwks`)).json() as JSONWebKeySet;
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: auth.issuer, audience: auth.config.authServer.resource, typ: 'at+jwt', algorithms: ['RS256'],
    });
    const adminUser = (await auth.auth.users.findByUsername('admin'))!;
    assert.equal(protectedHeader.kid, (await auth.auth.admin.keys.list()).find((key) => key.status === 'active')!.kid);
    assert.equal(payload.sub, adminUser.id);
    assert.equal(payload.client_id, 'gatehouse');
    assert.equal(payload.scope, 'mcp:admin');
    assert.equal(payload.preferred_username, 'admin');
    assert.equal(payload.exp! - payload.iat!, 60);
    assert.ok(typeof payload.jti === 'string' && payload.jti.length >= 32);
    assert.equal(payload.gid, undefined);
    assert.equal(decodeProtectedHeader(token).alg, 'RS256');
  });

  test('after a key rotation the token is signed with the new active key, which the resource server already knows as the next one', async () => {
    const activeKid = async () => (await auth.auth.admin.keys.list()).find((key) => key.status === 'active')!.kid;
    const next = (await auth.auth.admin.keys.list()).find((key) => key.status === 'next')!.kid;
    const before = await activeKid();
    const keys = await admin.browser.navigate('/admin/keys');
    assert.equal((await rotateFrom(admin.browser, keys)).status, 200);
    assert.equal(await activeKid(), next);
    behaviour = json(200, { servers: [] });
    received = [];
    await admin.browser.navigate('/admin/servers');
    const kid = decodeProtectedHeader(/^Bearer (.+)$/.exec(received[0]!.headers.authorization ?? '')![1]!).kid;
    assert.equal(kid, next);
    assert.notEqual(kid, before);
  });

  const answers: Array<[string, Behaviour, RegExp]> = [
    ['401 invalid_token', json(401, { error: 'invalid_token', error_description: 'the access token was issued for another resource' }),
      /answered HTTP 401 \(invalid_token: the access token was issued for another resource\); it did not accept this server's token/],
    ['404 (no gateway there)', json(404, { error: 'not_found' }), /answered HTTP 404 \(not_found\); there is no gateway there: check auth_server\.gateway_status_uri/],
    ['500 with a stack trace', (res) => res.writeHead(500, { 'content-type': 'text/plain' }).end('Error: boom\n    at /app/dist/x.js:1:2'), /answered HTTP 500\./],
    ['503 temporarily_unavailable', json(503, { error: 'temporarily_unavailable' }), /answered HTTP 503 \(temporarily_unavailable\)\./],
    ['a redirect elsewhere', (res) => res.writeHead(302, { location: 'http://127.0.0.2:9/steal' }).end(), /answered HTTP 302; a redirect, which is not followed\./],
    ['HTML instead of JSON', (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>hello</h1>'), /answered with something that is not a list of MCP servers\./],
    ['JSON of another shape', json(200, { servers: [{ name: 'x' }] }), /answered with something that is not a list of MCP servers\./],
    ['an unknown state', json(200, { servers: [server({ state: 'exploded' })] }), /not a list of MCP servers/],
    ['more than 1 MiB, declared', json(200, { servers: [], pad: 'x'.repeat(1024 * 1024) }), /it answered with more than 1048576 bytes\./],
    ['more than 1 MiB, streamed without a length', (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"servers":[],"pad":"${'x'.repeat(600 * 1024)}`);
      res.end(`${'x'.repeat(600 * 1024)}"}`);
    }, /it answered with more than 1048576 bytes\./],
  ];
  for (const [name, answer, expected] of answers) {
    test(`an answer of ${name} is told in words on a 200 page, never a 5xx or a stack trace`, async () => {
      behaviour = answer;
      const page = await admin.browser.navigate('/admin/servers');
      assert.equal(page.status, 200);
      assert.match(textOf(page), expected);
      assert.doesNotMatch(page.html, /<table/);
      assertNoStackTrace(page.html, name);
    });
  }

  test('an answer that never comes ends after 3 seconds with words, not a hung page', async () => {
    behaviour = () => { /* never answers */ };
    const started = performance.now();
    const page = await admin.browser.navigate('/admin/servers');
    const took = performance.now() - started;
    assert.equal(page.status, 200);
    assert.match(textOf(page), /it did not answer within 3 seconds\./);
    assert.ok(took < 6000, `took ${took} ms`);
  });

  test('what the resource server reports is escaped on the page', async () => {
    behaviour = json(200, { servers: [server({ state: 'down', reason: '<script>alert(1)</script>', tools: [{ name: 'files__<img src=x>', scope: 'mcp:read' }] })] });
    const page = await admin.browser.navigate('/admin/servers');
    assert.equal(page.status, 200);
    assert.doesNotMatch(page.html, /<script>alert|<img src=x>/);
    assert.match(page.html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(page.html, /files__&lt;img src=x&gt;/);
  });

  // What the resource server sends is text from outside (a down server's reason is often its
  // upstream's own error text): a character that steers the display is written out, never obeyed.
  const steeringCharacters: Array<[string, string, string]> = [
    ['a right-to-left override', '\u202e', '\\u202e'],
    ['a right-to-left mark', '\u200f', '\\u200f'],
    ['a line separator', '\u2028', '\\u2028'],
    ['an escape sequence', '\u001b', '\\x1b'],
  ];
  /** The first steering character in the page, as U+XXXX (its own line breaks and indents left out). */
  const steering = (html: string) => {
    const match = STEERING.exec(html.replace(/[\t\n]/g, ' '));
    return match ? `U+${match[0].charCodeAt(0).toString(16).padStart(4, '0')}` : undefined;
  };
  for (const [what, char, shown] of steeringCharacters) {
    test(`${what} in a down server's reason is written out`, async () => {
      behaviour = json(200, { servers: [server({ state: 'down', reason: `it failed to start: gnp${char}exe` })] });
      const page = await admin.browser.navigate('/admin/servers');
      assert.equal(steering(page.html), undefined, 'no raw steering character on the page');
      assert.ok(rowOf(page, 'files').includes(`it failed to start: gnp${shown}exe`), rowOf(page, 'files'));
    });

    test(`${what} in the error_description of a refusal is written out`, async () => {
      behaviour = json(401, { error: 'invalid_token', error_description: `refused${char}by` });
      const page = await admin.browser.navigate('/admin/servers');
      assert.equal(steering(page.html), undefined, 'no raw steering character on the page');
      assert.ok(textOf(page).includes(`answered HTTP 401 (invalid_token: refused${shown}by)`), textOf(page));
    });
  }

  test('no servers configured says so', async () => {
    behaviour = json(200, { servers: [] });
    const page = await admin.browser.navigate('/admin/servers');
    assert.match(textOf(page), /No MCP servers are configured \( resource_server\.servers \)\./);
  });
});
