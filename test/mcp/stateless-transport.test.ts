/**
 * MCP 2026-07-28 stateless Streamable HTTP (SEP-2575, SEP-2243) on Gatehouse's one endpoint, with
 * both real apps: a token from the real authorization code flow (DCR, sign-in and consent forms,
 * PKCE), and requests sent exactly as the revision's clients send them, by plain fetch: no
 * `initialize`, no `Mcp-Session-Id`, `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers,
 * and the per-request `_meta` envelope. The request shapes are the spec's own examples
 * (modelcontextprotocol/modelcontextprotocol docs/specification/2026-07-28/basic/transports/
 * streamable-http.mdx §Standard Request Headers), as the MCP SDK 2.x client
 * (@modelcontextprotocol/client 2.4.0, StreamableHTTPClientTransport) sends them.
 *
 * Beside them, a session-based client (the real MCP SDK 1.32 client, 2025-11-25 and 2025-06-18)
 * keeps working on the same endpoint, and the gateway's tools answer either era.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { freePort } from '../helpers/net.ts';
import { parseChallenge } from '../helpers/mcp-http.ts';
import { connect, redeem, registerClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { waitForServers } from '../gateway/support/gateway-client.ts';
import { EVERYTHING, SCRIPTED, stdioServer } from '../gateway/support/upstreams.ts';
import { waitFor } from '../helpers/wait-for.ts';

const REVISION = '2026-07-28';
const CLIENT_INFO = { name: 'ExampleClient', version: '1.0.0' };

interface Rpc {
  jsonrpc: '2.0';
  id?: string | number | null;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: Record<string, unknown> };
}

describe('MCP 2026-07-28: stateless requests beside session-based clients (both apps)', { timeout: 60_000 }, () => {
  let authServer: TestAuthServer;
  let rs: Awaited<ReturnType<typeof startResourceServerBeside>>;
  let mcpUrl: string;
  /** mcp:read only, from the real code flow as the admin. */
  let readToken: string;

  before(async () => {
    const port = await freePort();
    mcpUrl = `http://127.0.0.1:${port}/mcp`;
    authServer = await startAuthServer({ env: { RESOURCE_URL: mcpUrl } });
    rs = await startResourceServerBeside(authServer, {
      configure(config) {
        config.servers = [
          stdioServer('everything', EVERYTHING, ['stdio'], { scopes: { default: 'mcp:read', tools: { 'get-sum': 'mcp:write' } } }),
          stdioServer('scripted', SCRIPTED),
        ];
      },
    });
    await waitForServers(new URL(mcpUrl).origin, { everything: 'ready', scripted: 'ready' });
    const client = await registerClient(authServer.issuer);
    const flow = await connect(authServer.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: mcpUrl, username: 'admin', password: ADMIN_PASSWORD });
    const token = await redeem(authServer.issuer, client, flow);
    assert.equal(token.status, 200, JSON.stringify(token.body));
    readToken = token.body.access_token as string;
  });
  after(async () => {
    await rs?.close();
    await authServer?.close();
  });

  /** The `_meta` every 2026-07-28 request carries (schema.ts RequestMetaObject). */
  function envelope(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      'io.modelcontextprotocol/protocolVersion': REVISION,
      'io.modelcontextprotocol/clientInfo': CLIENT_INFO,
      'io.modelcontextprotocol/clientCapabilities': {},
      ...extra,
    };
  }

  /** A request as a 2026-07-28 client sends it; `headers` override or (as undefined) drop the standard ones. */
  function statelessRequest(id: number, method: string, params: Record<string, unknown> = {}, name?: string) {
    return {
      body: { jsonrpc: '2.0', id, method, params: { ...params, _meta: envelope() } },
      headers: {
        'MCP-Protocol-Version': REVISION,
        'Mcp-Method': method,
        ...(name === undefined ? {} : { 'Mcp-Name': name }),
      } as Record<string, string | undefined>,
    };
  }

  async function post(body: unknown, headers: Record<string, string | undefined>, token = readToken): Promise<{ status: number; headers: Headers; rpc: Rpc }> {
    const sent: Record<string, string> = {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      Authorization: `Bearer ${token}`,
    };
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) sent[name] = value;
    const response = await fetch(mcpUrl, { method: 'POST', headers: sent, body: JSON.stringify(body) });
    const text = await response.text();
    return { status: response.status, headers: response.headers, rpc: text ? JSON.parse(text) as Rpc : { jsonrpc: '2.0' } };
  }

  async function send(request: { body: unknown; headers: Record<string, string | undefined> }, token?: string) {
    return post(request.body, request.headers, token);
  }

  test('server/discover names the versions, the capabilities and the server, with no session', async () => {
    const { status, headers, rpc } = await send(statelessRequest(1, 'server/discover'));
    assert.equal(status, 200);
    assert.equal(headers.get('mcp-session-id'), null, 'no session is minted');
    const result = rpc.result!;
    assert.equal(result.resultType, 'complete');
    assert.deepEqual((result.supportedVersions as string[]).slice(0, 3), [REVISION, '2025-11-25', '2025-06-18']);
    const { tools } = result.capabilities as { tools?: Record<string, unknown> };
    assert.ok(tools, 'offers tools');
    assert.equal(tools.listChanged, undefined, 'no listChanged: no subscriptions/listen here');
    const meta = result._meta as Record<string, { name: string } | undefined>;
    assert.equal(meta['io.modelcontextprotocol/serverInfo']?.name, 'gatehouse');
    assert.equal(result.cacheScope, 'private');
    assert.equal(typeof result.ttlMs, 'number');
  });

  test('tools/list answers as a CacheableResult with the built-in and the gateway\'s tools', async () => {
    const { status, rpc } = await send(statelessRequest(2, 'tools/list'));
    assert.equal(status, 200);
    assert.equal(rpc.id, 2);
    const { tools, resultType, ttlMs, cacheScope } = rpc.result as { tools: Array<{ name: string }>; resultType: string; ttlMs: number; cacheScope: string };
    assert.equal(resultType, 'complete');
    assert.equal(cacheScope, 'private');
    assert.ok(ttlMs >= 0);
    const names = tools.map((tool) => tool.name);
    for (const name of ['whoami', 'create_note', 'everything__echo']) assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
  });

  test('tools/call whoami runs as the signed-in user of the token, on each request alone', async () => {
    for (const id of [3, 4]) {
      const { status, headers, rpc } = await send(statelessRequest(id, 'tools/call', { name: 'whoami', arguments: {} }, 'whoami'));
      assert.equal(status, 200);
      assert.equal(headers.get('mcp-session-id'), null);
      assert.equal(rpc.id, id);
      const me = rpc.result!.structuredContent as { username: string; scopes: string[] };
      assert.equal(me.username, 'admin');
      assert.deepEqual(me.scopes, ['mcp:read']);
      assert.equal(rpc.result!.resultType, 'complete');
    }
  });

  test('a gateway tool (everything__echo, over stdio) answers a stateless call', async () => {
    const { status, rpc } = await send(statelessRequest(5, 'tools/call', { name: 'everything__echo', arguments: { message: 'hello 2026' } }, 'everything__echo'));
    assert.equal(status, 200);
    assert.match(JSON.stringify(rpc.result!.content), /hello 2026/);
  });

  test('a gateway tool the token has no scope for meets the 403 step-up challenge', async () => {
    const { status, headers } = await send(statelessRequest(10, 'tools/call', { name: 'everything__get-sum', arguments: { a: 1, b: 2 } }, 'everything__get-sum'));
    assert.equal(status, 403);
    const challenge = parseChallenge(headers.get('www-authenticate'));
    assert.equal(challenge.params.error, 'insufficient_scope');
    assert.equal(challenge.params.scope, 'mcp:read mcp:write');
  });

  test('progress for the request\'s progressToken streams as SSE before the answer (§Receiving Messages)', { timeout: 15_000 }, async () => {
    const request = statelessRequest(11, 'tools/call', { name: 'everything__trigger-long-running-operation', arguments: { duration: 0.4, steps: 2 } }, 'everything__trigger-long-running-operation');
    (request.body.params._meta as Record<string, unknown>).progressToken = 'p-11';
    const response = await fetch(mcpUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${readToken}`, ...request.headers as Record<string, string> },
      body: JSON.stringify(request.body),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = (await response.text()).split('\n').filter((line) => line.startsWith('data:')).map((line) => JSON.parse(line.slice(5)) as Rpc & { method?: string; params?: Record<string, unknown> });
    assert.deepEqual(events.slice(0, -1).map((event) => [event.method, event.params?.progressToken, event.params?.progress]), [['notifications/progress', 'p-11', 1], ['notifications/progress', 'p-11', 2]]);
    const last = events.at(-1)!;
    assert.equal(last.id, 11);
    assert.match(JSON.stringify(last.result?.content), /Long running operation completed/);
  });

  test('closing the request cancels the call at the server behind the gateway (§Cancellation)', { timeout: 15_000 }, async () => {
    const cancellations = async () => {
      const { rpc } = await send(statelessRequest(16, 'tools/call', { name: 'scripted__cancellations', arguments: {} }, 'scripted__cancellations'));
      return (rpc.result!.structuredContent as { cancelled: number }).cancelled;
    };
    const before = await cancellations();
    const request = statelessRequest(17, 'tools/call', { name: 'scripted__wait-for-cancel', arguments: {} }, 'scripted__wait-for-cancel');
    (request.body.params._meta as Record<string, unknown>).progressToken = 'p-17';
    const closing = new AbortController();
    const response = await fetch(mcpUrl, {
      method: 'POST',
      signal: closing.signal,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${readToken}`, ...request.headers as Record<string, string> },
      body: JSON.stringify(request.body),
    });
    // Its progress says the call is running: the client goes away now.
    const reader = response.body!.getReader();
    const { value } = await reader.read();
    assert.match(new TextDecoder().decode(value), /notifications\/progress/);
    closing.abort();
    await waitFor('the server behind the gateway to see the cancellation', async () => (await cancellations()) === before + 1, 5000);
  });

  test('a server\'s sampling request is refused at once for a stateless caller (no Multi Round-Trip Requests on SDK 1.32)', { timeout: 15_000 }, async () => {
    const started = Date.now();
    const { status, rpc } = await send(statelessRequest(12, 'tools/call', { name: 'everything__trigger-sampling-request', arguments: { prompt: 'say something' } }, 'everything__trigger-sampling-request'));
    assert.equal(status, 200);
    assert.match(JSON.stringify(rpc.result ?? rpc.error), /does not support sampling/);
    assert.ok(Date.now() - started < 10_000, 'refused, not left to time out');
  });

  test('prompts/get and resources/read carry their name and URI in Mcp-Name, as the body does', async () => {
    const prompt = await send(statelessRequest(13, 'prompts/get', { name: 'everything__simple-prompt' }, 'everything__simple-prompt'));
    assert.equal(prompt.status, 200, JSON.stringify(prompt.rpc));
    assert.ok(Array.isArray(prompt.rpc.result!.messages));
    const listed = await send(statelessRequest(14, 'resources/list'));
    const uri = (listed.rpc.result!.resources as Array<{ uri: string }>)[0]!.uri;
    const read = await send(statelessRequest(15, 'resources/read', { uri }, uri));
    assert.equal(read.status, 200, JSON.stringify(read.rpc));
    assert.equal(read.rpc.result!.cacheScope, 'private');
    assert.equal(read.rpc.result!.ttlMs, 0, 'resource contents are live');
  });

  test('an Mcp-Name in the Base64 form is decoded before it is compared (§Value Encoding)', async () => {
    const encoded = `=?base64?${Buffer.from('whoami').toString('base64')}?=`;
    const { status, rpc } = await send(statelessRequest(6, 'tools/call', { name: 'whoami', arguments: {} }, encoded));
    assert.equal(status, 200, JSON.stringify(rpc));
  });

  test('an Mcp-Session-Id sent anyway is ignored, not looked up (§Backward Compatibility)', async () => {
    const request = statelessRequest(7, 'tools/call', { name: 'whoami', arguments: {} }, 'whoami');
    const { status } = await post(request.body, { ...request.headers, 'Mcp-Session-Id': 'no-such-session' });
    assert.equal(status, 200);
  });

  test('a tool the token has no scope for meets the 403 step-up challenge, as in a session', async () => {
    const { status, headers } = await send(statelessRequest(8, 'tools/call', { name: 'create_note', arguments: { title: 't', body: 'b' } }, 'create_note'));
    assert.equal(status, 403);
    const challenge = parseChallenge(headers.get('www-authenticate'));
    assert.equal(challenge.params.error, 'insufficient_scope');
    assert.equal(challenge.params.scope, 'mcp:read mcp:write');
    assert.match(challenge.params.resource_metadata!, /\/\.well-known\/oauth-protected-resource\/mcp$/);
  });

  test('without a token: 401 with the challenge, whatever the headers say', async () => {
    const request = statelessRequest(9, 'tools/call', { name: 'whoami', arguments: {} }, 'whoami');
    const response = await fetch(mcpUrl, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...request.headers as Record<string, string> }, body: JSON.stringify(request.body) });
    assert.equal(response.status, 401);
    assert.equal(parseChallenge(response.headers.get('www-authenticate')).params.error, undefined);
  });

  // Hostile and malformed requests: each refused with 400 and the JSON-RPC error the revision names
  // (§Server Validation: -32020 HeaderMismatch; basic/versioning: -32022; schema: -32602, -32600).
  const whoami = { name: 'whoami', arguments: {} };
  const createNote = { name: 'create_note', arguments: { title: 't', body: 'b' } };
  const refusals: Array<[string, () => { body: unknown; headers: Record<string, string | undefined> }, number, number]> = [
    ['Mcp-Name names whoami while the body calls create_note (smuggling past the scope check: 400, not the 403)', () => statelessRequest(20, 'tools/call', createNote, 'whoami'), 400, -32020],
    ['Mcp-Name names create_note while the body calls whoami', () => statelessRequest(21, 'tools/call', whoami, 'create_note'), 400, -32020],
    ['Mcp-Method says tools/list while the body calls a tool', () => ({ ...statelessRequest(22, 'tools/call', whoami, 'whoami'), headers: { 'MCP-Protocol-Version': REVISION, 'Mcp-Method': 'tools/list', 'Mcp-Name': 'whoami' } }), 400, -32020],
    ['no Mcp-Name on a tools/call', () => statelessRequest(23, 'tools/call', whoami), 400, -32020],
    ['Mcp-Name naming another prompt', () => statelessRequest(34, 'prompts/get', { name: 'everything__simple-prompt' }, 'everything__args-prompt'), 400, -32020],
    ['Mcp-Name naming another resource URI', () => statelessRequest(35, 'resources/read', { uri: 'demo://resource/static/document/a.md' }, 'demo://resource/static/document/b.md'), 400, -32020],
    ['no Mcp-Method', () => ({ ...statelessRequest(24, 'tools/list'), headers: { 'MCP-Protocol-Version': REVISION } }), 400, -32020],
    ['no MCP-Protocol-Version header', () => ({ ...statelessRequest(25, 'tools/list'), headers: { 'Mcp-Method': 'tools/list' } }), 400, -32020],
    ['MCP-Protocol-Version disagreeing with the envelope', () => ({ ...statelessRequest(26, 'tools/list'), headers: { 'MCP-Protocol-Version': '2025-11-25', 'Mcp-Method': 'tools/list' } }), 400, -32020],
    ['Mcp-Name in a Base64 form that is not Base64', () => statelessRequest(27, 'tools/call', whoami, '=?base64?not base64!?='), 400, -32020],
    ['Mcp-Name Base64 of another tool', () => statelessRequest(28, 'tools/call', createNote, `=?base64?${Buffer.from('whoami').toString('base64')}?=`), 400, -32020],
    ['the 2026-07-28 header on a body with no envelope', () => ({ body: { jsonrpc: '2.0', id: 29, method: 'tools/list', params: {} }, headers: { 'MCP-Protocol-Version': REVISION, 'Mcp-Method': 'tools/list' } }), 400, -32602],
    ['an envelope without clientCapabilities', () => ({ body: { jsonrpc: '2.0', id: 30, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': REVISION } } }, headers: { 'MCP-Protocol-Version': REVISION, 'Mcp-Method': 'tools/list' } }), 400, -32602],
    ['an envelope whose version is not a string', () => ({ body: { jsonrpc: '2.0', id: 31, method: 'tools/list', params: { _meta: { ...envelope(), 'io.modelcontextprotocol/protocolVersion': 20260728 } } }, headers: { 'MCP-Protocol-Version': REVISION, 'Mcp-Method': 'tools/list' } }), 400, -32602],
    ['initialize with the 2026-07-28 header', () => ({ body: { jsonrpc: '2.0', id: 32, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: CLIENT_INFO } }, headers: { 'MCP-Protocol-Version': REVISION, 'Mcp-Method': 'initialize' } }), 400, -32020],
    ['a batch holding a 2026-07-28 request', () => ({ body: [statelessRequest(33, 'tools/list').body], headers: { 'MCP-Protocol-Version': REVISION, 'Mcp-Method': 'tools/list' } }), 400, -32600],
  ];

  for (const [name, build, status, code] of refusals) {
    test(`refuses ${name}: ${status} ${code}`, async () => {
      const { status: answered, rpc, headers } = await send(build());
      assert.equal(answered, status, JSON.stringify(rpc));
      assert.equal(rpc.error?.code, code, JSON.stringify(rpc));
      assert.match(headers.get('content-type') ?? '', /^application\/json/);
      assert.doesNotMatch(JSON.stringify(rpc), /at .*\.ts:\d+|node_modules/, 'no stack trace');
    });
  }

  test('an unknown future protocol version: 400 UnsupportedProtocolVersion listing what is served', async () => {
    const future = '2027-03-01';
    const body = { jsonrpc: '2.0', id: 41, method: 'tools/list', params: { _meta: envelope({ 'io.modelcontextprotocol/protocolVersion': future }) } };
    const { status, rpc } = await post(body, { 'MCP-Protocol-Version': future, 'Mcp-Method': 'tools/list' });
    assert.equal(status, 400);
    assert.equal(rpc.id, 41);
    assert.equal(rpc.error?.code, -32022);
    assert.equal(rpc.error?.data?.requested, future);
    assert.ok((rpc.error?.data?.supported as string[]).includes(REVISION));
    assert.ok((rpc.error?.data?.supported as string[]).includes('2025-11-25'));
  });

  test('a method the server does not have: 404 with -32601; initialize too', async () => {
    for (const method of ['no/such-method', 'initialize']) {
      const { status, rpc } = await send(statelessRequest(42, method));
      assert.equal(status, 404, method);
      assert.equal(rpc.error?.code, -32601, method);
    }
  });

  test('a notification is accepted with 202 and no body', async () => {
    const response = await fetch(mcpUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${readToken}`, 'MCP-Protocol-Version': REVISION, 'Mcp-Method': 'notifications/cancelled' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } }),
    });
    assert.equal(response.status, 202);
    assert.equal(await response.text(), '');
  });

  for (const protocolVersion of ['2025-11-25', '2025-06-18']) {
    test(`a session-based client (MCP SDK 1.32, ${protocolVersion}) keeps its session on the same endpoint`, async () => {
      const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${readToken}` } } });
      const client = new Client({ name: 'gatehouse-legacy', version: '1.0.0' });
      if (protocolVersion !== '2025-11-25') {
        // The SDK client offers its latest version; an older client offers its own.
        const original = transport.send.bind(transport);
        transport.send = (message, options) => {
          const rpc = message as { method?: string; params?: { protocolVersion?: string } };
          if (rpc.method === 'initialize' && rpc.params) rpc.params.protocolVersion = protocolVersion;
          return original(message, options);
        };
      }
      await client.connect(transport);
      try {
        assert.ok(transport.sessionId, 'a session was opened');
        assert.equal(transport.protocolVersion, protocolVersion);
        const me = (await client.callTool({ name: 'whoami', arguments: {} })).structuredContent as { username: string };
        assert.equal(me.username, 'admin');
      } finally {
        await transport.terminateSession();
        await client.close();
      }
    });
  }

  test('a session-based request with mismatching Mcp-Name is refused too; without the headers it is unchanged', async () => {
    const body = { jsonrpc: '2.0', id: 50, method: 'tools/call', params: createNote };
    const mismatched = await post(body, { 'MCP-Protocol-Version': '2025-11-25', 'Mcp-Session-Id': 'whatever', 'Mcp-Name': 'whoami' });
    assert.equal(mismatched.status, 400);
    assert.equal(mismatched.rpc.error?.code, -32020);
    const plain = await post(body, { 'MCP-Protocol-Version': '2025-11-25', 'Mcp-Session-Id': 'whatever' });
    assert.equal(plain.status, 403, 'the step-up comes first, as before');
  });
});
