/**
 * The MCP endpoint's HTTP behaviour before a request reaches MCP: the 401 challenge for every
 * method, how the Authorization header is read, Origin checks and CORS, and the body cap.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { createLogger } from '../../apps/shared/logger.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, useIssuerAndServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { INITIALIZE, mcpRequest, openSession, parseChallenge } from '../helpers/mcp-http.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { STEERING } from '../helpers/steering-characters.ts';

const METADATA_URL = 'http://localhost:4001/.well-known/oauth-protected-resource/mcp';
const INSPECTOR = 'http://localhost:6274';

describe('MCP endpoint without a usable token', () => {
  const running = useIssuerAndServer({ allowedOrigins: [INSPECTOR] });

  const requests: Array<[string, { method: string; headers?: Record<string, string> }]> = [
    ['POST', { method: 'POST' }],
    ['GET', { method: 'GET' }],
    ['DELETE', { method: 'DELETE' }],
    ['POST with a session id', { method: 'POST', headers: { 'Mcp-Session-Id': 'no-such-session' } }],
    ['GET with a session id', { method: 'GET', headers: { 'Mcp-Session-Id': 'no-such-session' } }],
    ['DELETE with a session id', { method: 'DELETE', headers: { 'Mcp-Session-Id': 'no-such-session' } }],
    ['POST with an unsupported MCP-Protocol-Version', { method: 'POST', headers: { 'MCP-Protocol-Version': '1999-01-01' } }],
    ['POST with a body that is not JSON', { method: 'POST', headers: { 'Content-Type': 'text/plain' } }],
  ];

  for (const [name, request] of requests) {
    test(`answers ${name} with 401 and a challenge without error`, async () => {
      const response = await mcpRequest(running.server.mcpUrl, request);
      assert.equal(response.status, 401);
      const challenge = parseChallenge(response.headers.get('www-authenticate'));
      assert.equal(challenge.scheme, 'Bearer');
      // challenge_scopes: all (the default): every scope the built-in tools use.
      assert.deepEqual(challenge.params, { scope: 'mcp:read mcp:write mcp:admin', resource_metadata: METADATA_URL });
    });
  }

  const authorizations: Array<[string, (token: string) => Record<string, string>, 'accepted' | 'no token' | 'invalid_token']> = [
    ['the Bearer scheme', (token) => ({ Authorization: `Bearer ${token}` }), 'accepted'],
    ['the scheme in lower case', (token) => ({ Authorization: `bearer ${token}` }), 'accepted'],
    ['the scheme in upper case', (token) => ({ Authorization: `BEARER ${token}` }), 'accepted'],
    ['the scheme in mixed case', (token) => ({ Authorization: `bEaReR ${token}` }), 'accepted'],
    ['a Basic scheme', (token) => ({ Authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` }), 'no token'],
    ['the token without a scheme', (token) => ({ Authorization: token }), 'no token'],
    ['the scheme with no token', () => ({ Authorization: 'Bearer' }), 'invalid_token'],
    ['the scheme with two tokens', (token) => ({ Authorization: `Bearer ${token} ${token}` }), 'invalid_token'],
    ['a token with characters outside b64token', (token) => ({ Authorization: `Bearer ${token}!` }), 'invalid_token'],
  ];

  for (const [name, headers, expected] of authorizations) {
    test(`Authorization with ${name}: ${expected}`, async () => {
      const response = await mcpRequest(running.server.mcpUrl, { headers: headers(await running.issuer.mint()) });
      if (expected === 'accepted') {
        assert.equal(response.status, 200);
        return;
      }
      assert.equal(response.status, 401);
      const { params } = parseChallenge(response.headers.get('www-authenticate'));
      assert.equal(params.error, expected === 'no token' ? undefined : 'invalid_token');
    });
  }

  // Node keeps the first Authorization header and drops the rest: a request carrying two must not
  // run as either (a proxy in front may have read the other).
  const repeated: Array<[string, (token: string, other: string) => string[]]> = [
    ['a valid token, then a malformed one', (token) => [`Bearer ${token}`, 'Bearer not-a-jwt!']],
    ['a malformed token, then a valid one', (token) => ['Bearer not-a-jwt!', `Bearer ${token}`]],
    ['the same valid token twice', (token) => [`Bearer ${token}`, `Bearer ${token}`]],
    ['two users\' valid tokens', (token, other) => [`Bearer ${token}`, `Bearer ${other}`]],
    ['a valid token, then a Basic header', (token) => [`Bearer ${token}`, `Basic ${Buffer.from('x:y').toString('base64')}`]],
    ['a Basic header, then a valid token', (token) => [`Basic ${Buffer.from('x:y').toString('base64')}`, `Bearer ${token}`]],
  ];

  for (const [name, authorization] of repeated) {
    test(`refuses two Authorization headers (${name}) with 400 invalid_request`, async () => {
      const headers = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
      const response = await rawRequest(running.server.baseUrl, {
        method: 'POST', path: '/mcp', body: JSON.stringify(INITIALIZE),
        headers: { ...headers, authorization: authorization(await running.issuer.mint(), await running.issuer.mint()) },
      });
      assert.equal(response.status, 400, response.body.slice(0, 200));
      assert.equal(response.headers['mcp-session-id'], undefined, 'no session was opened');
      const challenge = parseChallenge(String(response.headers['www-authenticate']));
      assert.deepEqual(challenge.params, {
        error: 'invalid_request',
        error_description: 'the request carries more than one Authorization header',
        scope: 'mcp:read mcp:write mcp:admin',
        resource_metadata: METADATA_URL,
      });
      assert.deepEqual(JSON.parse(response.body), { error: 'invalid_request', error_description: 'the request carries more than one Authorization header' });
    });
  }

  test('ignores an access token in the query string', async () => {
    const response = await mcpRequest(`${running.server.mcpUrl}?access_token=${await running.issuer.mint()}`);
    assert.equal(response.status, 401);
    assert.equal(parseChallenge(response.headers.get('www-authenticate')).params.error, undefined);
  });

  test('ignores an access token in a form body', async () => {
    const response = await fetch(running.server.mcpUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json, text/event-stream' },
      body: new URLSearchParams({ access_token: await running.issuer.mint() }),
    });
    assert.equal(response.status, 401);
  });

  test('refuses an unknown Origin with 403, token or not', async () => {
    for (const token of [undefined, await running.issuer.mint()]) {
      const response = await mcpRequest(running.server.mcpUrl, { token, headers: { Origin: 'https://evil.example' } });
      assert.equal(response.status, 403);
      assert.equal(response.headers.get('access-control-allow-origin'), null);
    }
  });

  test('refuses Origin null with 403', async () => {
    const response = await mcpRequest(running.server.mcpUrl, { token: await running.issuer.mint(), headers: { Origin: 'null' } });
    assert.equal(response.status, 403);
  });

  test('lets an allowed Origin read the 401 challenge (CORS exposes WWW-Authenticate)', async () => {
    const response = await mcpRequest(running.server.mcpUrl, { headers: { Origin: INSPECTOR } });
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('access-control-allow-origin'), INSPECTOR);
    assert.match(response.headers.get('access-control-expose-headers') ?? '', /WWW-Authenticate/);
    assert.match(response.headers.get('access-control-expose-headers') ?? '', /Mcp-Session-Id/);
    assert.equal(response.headers.get('access-control-allow-credentials'), null);
  });

  test('serves an allowed Origin with a token and exposes Mcp-Session-Id', async () => {
    const response = await mcpRequest(running.server.mcpUrl, { token: await running.issuer.mint(), headers: { Origin: INSPECTOR } });
    assert.equal(response.status, 200);
    assert.ok(response.headers.get('mcp-session-id'));
    assert.equal(response.headers.get('access-control-allow-origin'), INSPECTOR);
    assert.match(response.headers.get('access-control-expose-headers') ?? '', /Mcp-Session-Id/);
  });

  test('answers an allowed Origin preflight without asking for a token', async () => {
    const response = await fetch(running.server.mcpUrl, {
      method: 'OPTIONS',
      headers: { Origin: INSPECTOR, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type, mcp-protocol-version, mcp-session-id' },
    });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-origin'), INSPECTOR);
    for (const header of ['Authorization', 'Content-Type', 'MCP-Protocol-Version', 'Mcp-Session-Id']) {
      assert.match(response.headers.get('access-control-allow-headers') ?? '', new RegExp(header, 'i'));
    }
  });

  test('a preflight allows the MCP 2026-07-28 request metadata headers a browser client sends', async () => {
    const response = await fetch(running.server.mcpUrl, {
      method: 'OPTIONS',
      headers: { Origin: INSPECTOR, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type, mcp-protocol-version, mcp-method, mcp-name, mcp-param-region, x-other' },
    });
    assert.equal(response.status, 204);
    const allowed = (response.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/,\s*/);
    for (const header of ['mcp-method', 'mcp-name', 'mcp-param-region']) assert.ok(allowed.includes(header), `${header} in ${allowed.join(', ')}`);
    assert.ok(!allowed.includes('x-other'), 'only the MCP headers it asks for are added');
  });

  test('refuses a preflight from an unknown Origin', async () => {
    const response = await fetch(running.server.mcpUrl, {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(response.status, 403);
  });

  test('serves requests without Origin (server-to-server clients)', async () => {
    const response = await mcpRequest(running.server.mcpUrl, { token: await running.issuer.mint() });
    assert.equal(response.status, 200);
  });
});

describe('MCP endpoint request bodies', () => {
  const running = useIssuerAndServer({ maxBodyBytes: 4096 });

  test('refuses a body over the cap with 413', async () => {
    const body = { ...INITIALIZE, params: { ...INITIALIZE.params, padding: 'x'.repeat(5000) } };
    const response = await mcpRequest(running.server.mcpUrl, { token: await running.issuer.mint(), body });
    assert.equal(response.status, 413);
    assert.equal(response.headers.get('connection'), 'close', 'the unread body is not left on a kept-alive connection');
  });

  test('refuses a streamed body over the cap with 413', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(1024));
    const body = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 8; i += 1) controller.enqueue(chunk);
        controller.close();
      },
    });
    const response = await fetch(running.server.mcpUrl, {
      method: 'POST',
      headers: { Authorization: `Bearer ${await running.issuer.mint()}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body,
      duplex: 'half',
    } as RequestInit);
    assert.equal(response.status, 413);
    assert.equal(response.headers.get('connection'), 'close', 'the unread body is not left on a kept-alive connection');
  });

  test('accepts a body under the cap', async () => {
    const response = await mcpRequest(running.server.mcpUrl, { token: await running.issuer.mint() });
    assert.equal(response.status, 200);
  });

  test('answers malformed JSON with a JSON-RPC parse error', async () => {
    const response = await mcpRequest(running.server.mcpUrl, { token: await running.issuer.mint(), body: '{"jsonrpc": "2.0",' });
    assert.equal(response.status, 400);
    assert.equal((await response.json()).error.code, -32700);
  });

  // [what is sent, its Content-Encoding, the body]
  const encoded: Array<[string, string, () => Buffer]> = [
    ['a gzip-compressed initialize', 'gzip', () => gzipSync(JSON.stringify(INITIALIZE))],
    ['a plain initialize labelled gzip', 'gzip', () => Buffer.from(JSON.stringify(INITIALIZE))],
    ['a plain initialize labelled br', 'br', () => Buffer.from(JSON.stringify(INITIALIZE))],
    ['a plain initialize labelled deflate', 'Deflate', () => Buffer.from(JSON.stringify(INITIALIZE))],
    ['a plain initialize labelled gzip, identity', 'gzip, identity', () => Buffer.from(JSON.stringify(INITIALIZE))],
  ];

  for (const [what, coding, body] of encoded) {
    test(`refuses ${what} with 415 and Accept-Encoding: identity, opening no session`, async () => {
      const response = await rawRequest(running.server.baseUrl, {
        method: 'POST', path: '/mcp', body: body(),
        headers: { authorization: `Bearer ${await running.issuer.mint()}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-encoding': coding },
      });
      assert.equal(response.status, 415, response.body.slice(0, 200));
      assert.equal(response.headers['accept-encoding'], 'identity');
      assert.equal(response.headers['mcp-session-id'], undefined);
      assert.deepEqual(JSON.parse(response.body), {
        jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Unsupported Media Type: the body must be sent without a Content-Encoding' },
      });
    });
  }

  test('serves a body labelled Content-Encoding: identity', async () => {
    const response = await mcpRequest(running.server.mcpUrl, { token: await running.issuer.mint(), headers: { 'Content-Encoding': 'identity' } });
    assert.equal(response.status, 200);
    assert.ok(response.headers.get('mcp-session-id'));
  });

  test('leaves other content types to the SDK (415)', async () => {
    const response = await mcpRequest(running.server.mcpUrl, { token: await running.issuer.mint(), headers: { 'Content-Type': 'text/plain' } });
    assert.equal(response.status, 415);
  });

});

describe('MCP endpoint methods', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let token: string;
  let sessionId: string;

  /** The methods the endpoint serves: what every 405 and the preflight say (RFC 9110 §15.5.6, §10.2.1). */
  const ALLOW = 'GET, POST, DELETE, OPTIONS';

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer });
    token = await issuer.mint();
    sessionId = await openSession(server.mcpUrl, token);
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  // [what is sent, method, with a token, with the session's id]
  const refused: Array<[string, string, boolean, boolean]> = [
    ['HEAD without a token', 'HEAD', false, false],
    ['HEAD with a token', 'HEAD', true, false],
    ['HEAD in a session', 'HEAD', true, true],
    ['PUT with a token', 'PUT', true, false],
    ['PATCH in a session', 'PATCH', true, true],
    ['TRACE without a token', 'TRACE', false, false],
  ];
  for (const [what, method, withToken, inSession] of refused) {
    test(`answers ${what} with 405 and Allow: ${ALLOW}`, async () => {
      const headers = { ...(withToken ? { Authorization: `Bearer ${token}` } : {}), ...(inSession ? { 'Mcp-Session-Id': sessionId } : {}) };
      const response = await rawRequest(server.baseUrl, { method, path: '/mcp', headers });
      assert.equal(response.status, 405, response.body.slice(0, 200));
      assert.equal(response.headers.allow, ALLOW);
      assert.equal(response.headers['www-authenticate'], undefined, 'a method not served needs no token');
    });
  }

  test('every method the 405 names is served: a preflight, a POST, a GET stream and a DELETE in a session', async () => {
    const preflight = await rawRequest(server.baseUrl, { method: 'OPTIONS', path: '/mcp' });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.allow, ALLOW);
    const own = await openSession(server.mcpUrl, token);
    const inSession = { 'Mcp-Session-Id': own, 'MCP-Protocol-Version': '2025-11-25' };
    const posted = await mcpRequest(server.mcpUrl, { token, headers: inSession, body: { jsonrpc: '2.0', method: 'notifications/initialized' } });
    assert.equal(posted.status, 202);
    const stream = await mcpRequest(server.mcpUrl, { token, method: 'GET', headers: inSession });
    assert.equal(stream.status, 200);
    assert.equal(stream.headers.get('content-type'), 'text/event-stream');
    await stream.body?.cancel();
    const deleted = await mcpRequest(server.mcpUrl, { token, method: 'DELETE', headers: inSession });
    assert.equal(deleted.status, 200);
  });

  test('HEAD at the origin root with a token is the page\'s, not an MCP request', async () => {
    const response = await rawRequest(server.baseUrl, { method: 'HEAD', path: '/', headers: { Authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    assert.match(String(response.headers['content-type']), /^text\/html/);
  });
});

describe('MCP endpoint requests as observed', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const lines: Array<Record<string, unknown>> = [];

  before(async () => {
    issuer = await startTestIssuer();
    const sink = new Writable({ write(chunk, _encoding, done) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); done(); } });
    server = await startResourceServer({ issuer: issuer.issuer, logger: createLogger('resource-server', 'info', sink) });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  test('keeps a sane X-Request-Id, replaces any other, and logs one line per request with its status, never the query', async () => {
    const id = 'edge-7f3a.42:mcp_1';
    const kept = await mcpRequest(`${server.mcpUrl}?access_token=secret-in-query`, { token: await issuer.mint(), headers: { 'X-Request-Id': id } });
    assert.equal(kept.status, 200);
    assert.equal(kept.headers.get('x-request-id'), id);
    const replaced = await mcpRequest(server.mcpUrl, { headers: { 'X-Request-Id': 'has spaces in it' } });
    assert.match(replaced.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    const line = await waitFor('the line of the request with the kept id', () => lines.find((l) => l.requestId === id && l.msg === 'request'));
    assert.deepEqual({ method: line.method, path: line.path, status: line.status, stream: line.stream, level: line.level }, { method: 'POST', path: '/mcp', status: 200, stream: true, level: 30 });
    await waitFor('the 401 line', () => lines.find((l) => l.requestId === replaced.headers.get('x-request-id') && l.status === 401));
    assert.ok(!JSON.stringify(lines).includes('secret-in-query'));
  });

  test('logs a refused Origin at warn once per origin, naming the setting that allows it', async () => {
    const refusals = () => lines.filter((l) => l.level === 40 && String(l.msg).includes('resource_server.allowed_origins'));
    const before = refusals().length;
    for (const Origin of [INSPECTOR, INSPECTOR, 'https://other.example']) {
      assert.equal((await mcpRequest(server.mcpUrl, { headers: { Origin } })).status, 403);
    }
    const preflight = await fetch(server.mcpUrl, { method: 'OPTIONS', headers: { Origin: INSPECTOR, 'Access-Control-Request-Method': 'POST' } });
    assert.equal(preflight.status, 403);
    await waitFor('the request line of the refused preflight', () => lines.find((l) => l.msg === 'request' && l.method === 'OPTIONS' && l.status === 403));
    assert.deepEqual(refusals().slice(before).map((l) => l.origin), [INSPECTOR, 'https://other.example']);
  });

  test('quotes a refused Origin cut short and with its control characters written out', async () => {
    // U+009B is CSI on terminals that read 8-bit controls; a header carries it as one latin1 byte.
    const origin = `https://\u009b2J${'a'.repeat(1000)}.example`;
    assert.equal((await rawRequest(server.baseUrl, { method: 'POST', path: '/mcp', headers: { Origin: origin } })).status, 403);
    const line = await waitFor('the refusal line', () => lines.find((l) => l.level === 40 && String(l.origin).startsWith('https://') && String(l.origin).includes('2Jaaa')));
    assert.ok(String(line.origin).startsWith('https://\\x9b2J'), String(line.origin));
    assert.ok(String(line.origin).length < 250);
    assert.doesNotMatch(String(line.origin), STEERING);
  });

  test('serves the MCP path with a trailing slash or in another case, as one route', async () => {
    for (const path of ['/mcp/', '/MCP', '/Mcp?x=1']) {
      const response = await mcpRequest(`${server.baseUrl}${path}`);
      assert.equal(response.status, 401, path);
      assert.ok(response.headers.get('www-authenticate'), path);
    }
    assert.equal((await mcpRequest(`${server.baseUrl}/mcp/x`)).status, 404);
  });
});
