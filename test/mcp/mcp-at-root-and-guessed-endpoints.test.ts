/**
 * Claude's two quirks on the MCP origin (issue 16, point 7), with both real apps:
 *
 * - After authorization, Claude web and Desktop send their MCP requests to the origin root instead
 *   of the resource path (anthropics/claude-ai-mcp#62: "POST /token -> 200, POST / -> 404,
 *   GET / -> 404", and #806). `/` serves the same endpoint: same token check, same audience (the
 *   configured resource), same 401 challenge.
 * - When its discovery fails Claude falls back to the MCP 2025-03-26 default endpoints on the MCP
 *   origin: the browser goes to `<mcp origin>/authorize?…` (anthropics/claude-ai-mcp#341, #716:
 *   "redirects the browser to https://<host>/authorize?response_type=code&client_id=…"), and it
 *   posts to `/token` and `/register` there (#82). Those answer 307 to the real endpoints, and a
 *   client that follows the 307 as fetch does (same method, same body) gets its answer.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import { Browser } from '../helpers/browser.ts';
import { INITIALIZE, jsonRpcMessageOf, mcpRequest, parseChallenge } from '../helpers/mcp-http.ts';
import { freePort } from '../helpers/net.ts';
import {
  authorizeUrl, CLAUDE_CALLBACK, CLAUDE_DCR_BODY, connect, decide, redeem, registerClient, signIn, type RegisteredClient,
} from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startResourceServer } from '../helpers/start-resource-server.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { startTestIssuer } from '../helpers/test-issuer.ts';

const admin = { username: 'admin', password: ADMIN_PASSWORD };

describe('the MCP origin as Claude uses it (both apps)', () => {
  let authServer: TestAuthServer;
  let rs: Awaited<ReturnType<typeof startResourceServerBeside>>;
  let mcpUrl: string;
  let origin: string;
  let client: RegisteredClient;
  let accessToken: string;

  before(async () => {
    const port = await freePort();
    mcpUrl = `http://127.0.0.1:${port}/mcp`;
    origin = `http://127.0.0.1:${port}`;
    authServer = await startAuthServer({ env: { RESOURCE_URL: mcpUrl } });
    rs = await startResourceServerBeside(authServer);
    client = await registerClient(authServer.issuer);
    const result = await connect(authServer.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: mcpUrl, ...admin });
    const tokens = await redeem(authServer.issuer, client, result, { resource: mcpUrl });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    accessToken = tokens.body.access_token as string;
  });
  after(async () => {
    await rs?.close();
    await authServer?.close();
  });

  describe('MCP at /', () => {
    test('POST initialize to / with a valid token is served as at /mcp (the token is for the configured resource)', async () => {
      assert.equal(decodeJwt(accessToken).aud, mcpUrl);
      const response = await mcpRequest(`${origin}/`, { token: accessToken, body: INITIALIZE });
      assert.equal(response.status, 200);
      assert.ok(response.headers.get('mcp-session-id'), 'a session was opened');
      const message = jsonRpcMessageOf(await response.text());
      assert.equal((message.result?.serverInfo as { name?: string } | undefined)?.name !== undefined, true, JSON.stringify(message));
    });

    for (const [name, init] of [
      ['POST', { method: 'POST' }],
      ['GET with Accept: text/event-stream', { method: 'GET' }],
      ['DELETE', { method: 'DELETE', headers: { 'mcp-session-id': 'whatever' } }],
    ] as const) {
      test(`${name} to / without a token gets the very 401 challenge /mcp gives, naming the configured metadata URL`, async () => {
        const atRoot = await mcpRequest(`${origin}/`, init);
        const atPath = await mcpRequest(mcpUrl, init);
        assert.equal(atRoot.status, 401);
        assert.equal(atRoot.headers.get('www-authenticate'), atPath.headers.get('www-authenticate'));
        assert.equal(parseChallenge(atRoot.headers.get('www-authenticate')).params.resource_metadata, `${origin}/.well-known/oauth-protected-resource/mcp`);
      });
    }

    test('a bad token at / is refused with invalid_token, as at /mcp', async () => {
      const response = await mcpRequest(`${origin}/`, { token: `${accessToken.slice(0, -4)}AAAA` });
      assert.equal(response.status, 401);
      assert.equal(parseChallenge(response.headers.get('www-authenticate')).params.error, 'invalid_token');
    });

    test('the real MCP SDK client pointed at the origin root lists and calls tools', async () => {
      const sdk = new Client({ name: 'claude-at-root', version: '1.0.0' });
      await sdk.connect(new StreamableHTTPClientTransport(new URL(`${origin}/`), { requestInit: { headers: { Authorization: `Bearer ${accessToken}` } } }));
      const tools = (await sdk.listTools()).tools.map((tool) => tool.name);
      assert.ok(tools.includes('whoami'), tools.join(', '));
      const me = (await sdk.callTool({ name: 'whoami', arguments: {} })) as unknown as { structuredContent: { username: string; client_id: string } };
      assert.equal(me.structuredContent.username, 'admin');
      assert.equal(me.structuredContent.client_id, client.client_id);
      await sdk.close();
    });

    test('a browser opening / gets a short page naming the MCP URL, not a 401 or a 404', async () => {
      const response = await fetch(`${origin}/`, { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal(response.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'", 'nothing loads, and no site may frame it');
      assert.equal(response.headers.get('x-frame-options'), 'DENY', 'for browsers without frame-ancestors');
      assert.match(await response.text(), new RegExp(`<code>${mcpUrl.replace(/[.]/g, '\\.')}</code>`));
    });

    // RFC 9110 §15.5.6: Allow lists what `/` serves, the page's GET and HEAD and the MCP endpoint's POST and DELETE.
    for (const method of ['PUT', 'PATCH']) {
      test(`other paths stay 404, and ${method} / is not the MCP endpoint: 405 with Allow naming what / serves`, async () => {
        assert.equal((await fetch(`${origin}/other`, { method: 'POST', body: '{}' })).status, 404);
        const refused = await fetch(`${origin}/`, { method, body: '{}' });
        assert.equal(refused.status, 405);
        assert.equal(refused.headers.get('allow'), 'HEAD, GET, POST, DELETE, OPTIONS');
        assert.equal(refused.headers.get('www-authenticate'), null);
        for (const listed of refused.headers.get('allow')!.split(', ')) {
          assert.notEqual((await fetch(`${origin}/`, { method: listed })).status, 405, `${listed} / is served`);
        }
      });
    }
  });

  describe('307 from the guessed endpoints to the real ones', () => {
    async function metadata(): Promise<Record<string, string>> {
      return await (await fetch(`${authServer.issuer}/.well-known/oauth-authorization-server`)).json() as Record<string, string>;
    }

    test('GET /authorize?… answers 307 to authorization_endpoint with the query string as sent', async () => {
      const { challenge } = createPkce();
      // The shape Claude sends (anthropics/claude-ai-mcp#716), on the MCP origin.
      const guessed = authorizeUrl(origin, { clientId: client.client_id, resource: mcpUrl, scope: 'mcp:read' }, challenge);
      guessed.pathname = '/authorize';
      const response = await fetch(guessed, { redirect: 'manual', headers: { host: 'evil.example' } });
      assert.equal(response.status, 307);
      assert.equal(response.headers.get('location'), `${(await metadata()).authorization_endpoint}${guessed.search}`);
      assert.equal(response.headers.get('cache-control'), 'no-store');
    });

    test('following /authorize signs the user in at the real auth-server and the code works', async () => {
      const browser = new Browser(authServer.issuer, [origin]);
      const { challenge, verifier } = createPkce();
      const guessed = authorizeUrl(origin, { clientId: client.client_id, resource: mcpUrl, scope: 'mcp:read', state: 'guessed' }, challenge);
      guessed.pathname = '/authorize';
      let page = await browser.navigate(guessed);
      page = await signIn(browser, page, admin.username, admin.password);
      if (page.html.includes('name="decision"')) page = await decide(browser, page, 'approve');
      const callback = new URL(page.url);
      assert.equal(`${callback.origin}${callback.pathname}`, CLAUDE_CALLBACK);
      assert.equal(callback.searchParams.get('state'), 'guessed');
      const tokens = await redeem(authServer.issuer, client, { callback, code: callback.searchParams.get('code')!, verifier, redirectUri: CLAUDE_CALLBACK, browser });
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    });

    test("POST /register with Claude's DCR body: 307 to registration_endpoint, and fetch's follow (same method and body) registers", async () => {
      const body = JSON.stringify(CLAUDE_DCR_BODY);
      const raw = await fetch(`${origin}/register`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body });
      assert.equal(raw.status, 307);
      assert.equal(raw.headers.get('location'), (await metadata()).registration_endpoint);

      const followed = await fetch(`${origin}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(followed.status, 201);
      const registered = await followed.json() as RegisteredClient;
      assert.deepEqual(registered.redirect_uris, [CLAUDE_CALLBACK]);
    });

    test('POST /token with a form body: 307 to token_endpoint, and following it redeems the code', async () => {
      const result = await connect(authServer.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: mcpUrl, ...admin });
      const form = new URLSearchParams({
        grant_type: 'authorization_code', client_id: client.client_id, code: result.code, code_verifier: result.verifier, redirect_uri: CLAUDE_CALLBACK, resource: mcpUrl,
      });
      const raw = await fetch(`${origin}/token`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
      assert.equal(raw.status, 307);
      assert.equal(raw.headers.get('location'), (await metadata()).token_endpoint);
      await raw.arrayBuffer();

      const followed = await fetch(`${origin}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
      const tokens = await followed.json() as Record<string, unknown>;
      assert.equal(followed.status, 200, JSON.stringify(tokens));
      assert.equal(decodeJwt(tokens.access_token as string).aud, mcpUrl);
      assert.ok(tokens.refresh_token);
    });

    test('a client_secret_basic client following /token across origins loses its Authorization header (Fetch): 400 invalid_request, never a 5xx', async () => {
      const basic = await registerClient(authServer.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_basic' });
      const result = await connect(authServer.issuer, { clientId: basic.client_id, scope: 'mcp:read', resource: mcpUrl, ...admin });
      const credentials = Buffer.from(`${encodeURIComponent(basic.client_id)}:${encodeURIComponent(basic.client_secret!)}`).toString('base64');
      const followed = await fetch(`${origin}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${credentials}` },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: result.code, code_verifier: result.verifier, redirect_uri: CLAUDE_CALLBACK }),
      });
      // The provider sees no client authentication at all (RFC 6749 §5.2 invalid_request).
      assert.equal(followed.status, 400);
      assert.deepEqual(await followed.json(), { error: 'invalid_request', error_description: 'no client authentication mechanism provided' });
    });

    test('matched as the router matches (any case, one trailing slash); other methods and deeper paths are not redirected', async () => {
      const token = (await metadata()).token_endpoint;
      for (const path of ['/TOKEN', '/token/', '/Token/']) {
        const response = await fetch(`${origin}${path}`, { method: 'POST', redirect: 'manual', body: 'x=1' });
        assert.equal(response.status, 307, path);
        assert.equal(response.headers.get('location'), token, path);
      }
      for (const [method, path] of [['PUT', '/token'], ['DELETE', '/register'], ['POST', '/token/x'], ['POST', '/token//']]) {
        const response = await fetch(`${origin}${path}`, { method, redirect: 'manual' });
        assert.equal(response.status, 404, `${method} ${path}`);
      }
    });
  });
});

describe('hostile requests at / get exactly what they get at /mcp', () => {
  const hostile: Array<[string, (token: string) => { token?: string; headers?: Record<string, string>; body?: unknown; method?: string }, number]> = [
    ['an unknown Origin', (token) => ({ token, headers: { Origin: 'https://evil.example' } }), 403],
    ['Origin null', (token) => ({ token, headers: { Origin: 'null' } }), 403],
    ['a body over the cap', (token) => ({ token, body: { ...INITIALIZE, params: { ...INITIALIZE.params, padding: 'x'.repeat(5000) } } }), 413],
    ['malformed JSON', (token) => ({ token, body: '{"jsonrpc": "2.0", "id": 1,' }), 400],
    ['a token for another resource', () => ({ token: 'FOREIGN' }), 401],
    ['a token in the query string only', () => ({}), 401],
    ['a read-only token calling create_note', (token) => ({ token, headers: { 'mcp-protocol-version': '2025-06-18' }, body: { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'create_note', arguments: { title: 't' } } } }), 403],
  ];

  for (const [name, request, status] of hostile) {
    test(`${name}: ${status} at both, never a 5xx`, async () => {
      const issuer = await startTestIssuer();
      const server = await startResourceServer({ issuer: issuer.issuer, config: { maxBodyBytes: 4096 } });
      try {
        const token = await issuer.mint({ claims: { scope: 'mcp:read' } });
        const foreign = await issuer.mint({ claims: { aud: 'https://other.example/mcp' } });
        const options = request(token);
        if (options.token === 'FOREIGN') options.token = foreign;
        for (const url of [server.mcpUrl, `${server.baseUrl}/`, `${server.baseUrl}/?access_token=${token}`]) {
          const response = await mcpRequest(url, options);
          assert.equal(response.status, status, url);
          const body = await response.text();
          assert.doesNotMatch(body, /\n\s+at |node_modules/, url);
        }
      } finally {
        await server.close();
        await issuer.close();
      }
    });
  }
});

describe('guessed endpoints when the metadata says otherwise or cannot be read', () => {
  test('/register with registration switched off is 404, /token still redirects', async () => {
    const port = await freePort();
    const authServer = await startAuthServer({ env: { RESOURCE_URL: `http://127.0.0.1:${port}/mcp` }, configure: (config) => { config.authServer.registration.enabled = false; } });
    const rs = await startResourceServerBeside(authServer);
    try {
      const register = await fetch(`http://127.0.0.1:${port}/register`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CLAUDE_DCR_BODY) });
      assert.equal(register.status, 404);
      assert.equal((await register.json() as { error: string }).error, 'invalid_request');
      const token = await fetch(`http://127.0.0.1:${port}/token`, { method: 'POST', redirect: 'manual' });
      assert.equal(token.status, 307);
    } finally {
      await rs.close();
      await authServer.close();
    }
  });

  test('metadata that cannot be fetched, or names another issuer, is 503 temporarily_unavailable (never a guess, never a 500)', async () => {
    const issuer = await startTestIssuer(); // serves no authorization server metadata: 404
    const unreachable = await startResourceServer({ issuer: issuer.issuer, config: { authorizationServerMetadataUri: 'http://127.0.0.1:9/.well-known/oauth-authorization-server' } });
    const notFound = await startResourceServer({ issuer: issuer.issuer });
    const otherIssuer = await startAuthServer();
    const mismatched = await startResourceServer({ issuer: issuer.issuer, config: { authorizationServerMetadataUri: `${otherIssuer.issuer}/.well-known/oauth-authorization-server` } });
    try {
      for (const server of [unreachable, notFound, mismatched]) {
        const response = await fetch(`${server.baseUrl}/authorize?client_id=x`, { redirect: 'manual' });
        assert.equal(response.status, 503);
        assert.equal(response.headers.get('retry-after'), '5');
        assert.equal((await response.json() as { error: string }).error, 'temporarily_unavailable');
      }
    } finally {
      await Promise.all([unreachable.close(), notFound.close(), mismatched.close()]);
      await otherIssuer.close();
      await issuer.close();
    }
  });

  test('a burst while the metadata fails costs the auth-server one fetch; the next try comes after 5 s', async () => {
    let fetches = 0;
    const failing = createServer((_req, res) => {
      fetches += 1;
      res.statusCode = 500;
      res.end();
    });
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    const clock = new TestClock();
    const issuer = await startTestIssuer();
    const server = await startResourceServer({
      issuer: issuer.issuer, clock,
      config: { authorizationServerMetadataUri: `http://127.0.0.1:${(failing.address() as AddressInfo).port}/.well-known/oauth-authorization-server` },
    });
    try {
      const burst = await Promise.all(Array.from({ length: 10 }, () => fetch(`${server.baseUrl}/token`, { method: 'POST', redirect: 'manual' })));
      assert.deepEqual(burst.map((response) => response.status), Array(10).fill(503));
      assert.equal((await fetch(`${server.baseUrl}/authorize`, { redirect: 'manual' })).status, 503);
      assert.equal(fetches, 1);
      clock.advance(5);
      assert.equal((await fetch(`${server.baseUrl}/register`, { method: 'POST', redirect: 'manual' })).status, 503);
      assert.equal(fetches, 2);
    } finally {
      await server.close();
      await issuer.close();
      failing.close();
    }
  });
});
