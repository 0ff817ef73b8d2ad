import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { ModelStore } from '../../apps/auth-server/src/provider/model-store.ts';
import {
  assertNoStackTrace, CLAUDE_CALLBACK, CLAUDE_DCR_BODY, clientSecretBasic, connect, redeem, refresh, register,
  registerClient, startAuthorization, tokenRequest,
} from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const CLAUDE_COM_CALLBACK = 'https://claude.com/api/mcp/auth_callback';
const INSPECTOR_ORIGIN = 'http://localhost:6274';
const INSPECTOR_CALLBACK = `${INSPECTOR_ORIGIN}/oauth/callback`;

const admin = { username: 'admin', password: ADMIN_PASSWORD };

async function readJson(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  assertNoStackTrace(text, `${response.url} ${response.status}`);
  return JSON.parse(text) as Record<string, unknown>;
}

describe('dynamic client registration (RFC 7591)', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer();
  });
  after(() => server.close());

  test("Claude's exact body registers, with the unknown scope claudeai dropped instead of failing", async () => {
    const response = await register(server.issuer, CLAUDE_DCR_BODY);
    const body = await readJson(response);
    assert.equal(response.status, 201, JSON.stringify(body));
    assert.equal(typeof body.client_id, 'string');
    assert.deepEqual(body.redirect_uris, [CLAUDE_CALLBACK]);
    assert.deepEqual(body.grant_types, ['authorization_code', 'refresh_token']);
    assert.equal(body.token_endpoint_auth_method, 'none');
    assert.equal(body.client_name, 'Claude');
    assert.ok(!String(body.scope ?? '').includes('claudeai'), `scope echoed: ${String(body.scope)}`);
  });

  // The sign-in and consent pages show the name to the person deciding: it must read as stored.
  const names: Array<[string, string, boolean]> = [
    ['a plain name', 'Visual Studio Code', true],
    ['100 characters', 'n'.repeat(100), true],
    ['a Persian name with a zero-width non-joiner', 'ابزار\u200cها', true],
    ['an emoji joined with a zero-width joiner', 'Team \u{1F469}\u200d\u{1F4BB}', true],
    ['101 characters', 'n'.repeat(101), false],
    ['a right-to-left override', 'Claude \u202e(untrusted)', false],
    ['a left-to-right embedding', '\u202aClaude', false],
    ['a first-strong isolate', 'Claude\u2068', false],
    ['a right-to-left mark', 'Claude\u200f', false],
    ['a line feed', 'Claude\nApproved by your administrator', false],
    ['a NUL', 'Claude\u0000', false],
    ['a line separator', 'Claude\u2028Verified', false],
    ['an emoji (a surrogate pair)', 'Claude \u{1F511}', true],
    ['a lone high surrogate', 'Claude \ud83d', false],
    ['a lone low surrogate', '\udd11Claude', false],
  ];
  for (const [what, name, accepted] of names) {
    test(`a client_name with ${what} is ${accepted ? 'registered as sent' : 'refused with 400 invalid_client_metadata'}`, async () => {
      const response = await register(server.issuer, { ...CLAUDE_DCR_BODY, client_name: name });
      const body = await readJson(response);
      if (accepted) {
        assert.equal(response.status, 201, JSON.stringify(body));
        assert.equal(body.client_name, name);
      } else {
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.equal(body.error, 'invalid_client_metadata');
        assert.match(String(body.error_description), /^client_name must/);
      }
    });
  }

  test('unknown extra fields are ignored and not echoed back', async () => {
    const response = await register(server.issuer, {
      ...CLAUDE_DCR_BODY,
      x_vendor_field: 'value',
      software_flavour: { nested: true },
      tos_accepted_by: 'nobody',
    });
    const body = await readJson(response);
    assert.equal(response.status, 201, JSON.stringify(body));
    for (const field of ['x_vendor_field', 'software_flavour', 'tos_accepted_by']) {
      assert.equal(field in body, false, `${field} echoed in ${JSON.stringify(body)}`);
    }
  });

  test('metadata for features not offered is dropped, so nothing is fetched or trusted from it', async () => {
    const hits: string[] = [];
    const trap = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.end('[]');
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    const trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}`;
    try {
      const response = await register(server.issuer, {
        ...CLAUDE_DCR_BODY,
        sector_identifier_uri: `${trapUrl}/sector.json`,
        jwks_uri: `${trapUrl}/jwks.json`,
        request_uris: [`${trapUrl}/request`],
        post_logout_redirect_uris: [CLAUDE_CALLBACK],
      });
      const body = await readJson(response);
      assert.equal(response.status, 201, JSON.stringify(body));
      for (const field of ['sector_identifier_uri', 'jwks_uri', 'request_uris', 'post_logout_redirect_uris']) {
        assert.equal(field in body, false, `${field} kept in ${JSON.stringify(body)}`);
      }
      assert.deepEqual(hits, [], 'no outbound request to URLs from the registration');
    } finally {
      trap.close();
    }
  });

  const authMethods = [
    { method: 'none', secret: false },
    { method: 'client_secret_post', secret: true },
    { method: 'client_secret_basic', secret: true },
  ] as const;
  for (const { method, secret } of authMethods) {
    test(`token_endpoint_auth_method ${method} ${secret ? 'gets' : 'gets no'} client_secret`, async () => {
      const client = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: method });
      assert.equal(client.token_endpoint_auth_method, method);
      if (secret) {
        assert.equal(typeof client.client_secret, 'string');
        assert.ok(client.client_secret!.length >= 32, 'a long random secret');
      } else {
        assert.equal(client.client_secret, undefined);
      }
    });
  }

  test('a client_secret_basic client redeems its code and refreshes with its secret in the Authorization header; a wrong secret is invalid_client', async () => {
    const client = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_basic' });
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, ...admin });
    const codeParams = { grant_type: 'authorization_code', code: result.code, code_verifier: result.verifier, redirect_uri: result.redirectUri };

    const wrong = await tokenRequest(server.issuer, codeParams, clientSecretBasic(client.client_id, 'not-the-secret'));
    assert.equal(wrong.status, 401, JSON.stringify(wrong.body));
    assert.equal(wrong.body.error, 'invalid_client');
    assert.equal(wrong.body.access_token, undefined);

    // Client authentication comes first, so the refused attempts did not use up the code.
    const tokens = await tokenRequest(server.issuer, codeParams, clientSecretBasic(client.client_id, client.client_secret!));
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(decodeJwt(tokens.body.access_token as string).client_id, client.client_id);

    const refreshParams = { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string };
    const badRefresh = await tokenRequest(server.issuer, refreshParams, clientSecretBasic(client.client_id, 'not-the-secret'));
    assert.equal(badRefresh.status, 401);
    assert.equal(badRefresh.body.error, 'invalid_client');
    const refreshed = await tokenRequest(server.issuer, refreshParams, clientSecretBasic(client.client_id, client.client_secret!));
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  });

  test('a client_secret_post client must send its secret in the body: wrong or missing is invalid_client', async () => {
    const client = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_post' });
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, ...admin });

    for (const [what, extra] of [['a wrong secret', { client_secret: 'not-the-secret' }], ['no secret', {}]] as const) {
      const refused = await redeem(server.issuer, client, result, extra);
      assert.equal(refused.status, 401, `${what}: ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.error, 'invalid_client', what);
      assert.equal(refused.body.access_token, undefined, what);
    }

    const tokens = await redeem(server.issuer, client, result, { client_secret: client.client_secret! });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const noSecretRefresh = await refresh(server.issuer, client, tokens.body.refresh_token as string);
    assert.equal(noSecretRefresh.status, 401);
    assert.equal(noSecretRefresh.body.error, 'invalid_client');
  });
});

describe('redirect URI policy at registration', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer();
  });
  after(() => server.close());

  const allowed: Array<[string, string[]]> = [
    ['the claude.ai callback', [CLAUDE_CALLBACK]],
    ['the claude.com callback', [CLAUDE_COM_CALLBACK]],
    ['both Claude callbacks together', [CLAUDE_CALLBACK, CLAUDE_COM_CALLBACK]],
    ['MCP Inspector on localhost', [INSPECTOR_CALLBACK]],
    ['VS Code on 127.0.0.1', ['http://127.0.0.1:33418/']],
    ['loopback IPv6', ['http://[::1]:8080/cb']],
    ['Cursor’s private-use scheme next to an https callback', ['cursor://anysphere.cursor-mcp/oauth/callback', CLAUDE_CALLBACK]],
  ];
  for (const [name, redirectUris] of allowed) {
    test(`accepts ${name}`, async () => {
      const response = await register(server.issuer, { ...CLAUDE_DCR_BODY, redirect_uris: redirectUris });
      const body = await readJson(response);
      assert.equal(response.status, 201, JSON.stringify(body));
      assert.deepEqual(body.redirect_uris, redirectUris);
    });
  }

  const refused: Array<[string, unknown]> = [
    ['an https URI not on the allow-list', ['https://evil.example/cb']],
    ['an allowed URI next to one that is not', [CLAUDE_CALLBACK, 'https://evil.example/cb']],
    ['an allowed URI with another path', ['https://claude.ai/api/mcp/auth_callback/x']],
    ['an allowed URI with a query added', [`${CLAUDE_CALLBACK}?next=https://evil.example`]],
    ['a fragment', [`${CLAUDE_CALLBACK}#frag`]],
    ['a loopback URI with a fragment', ['http://127.0.0.1:33418/#x']],
    ['javascript:', ['javascript:alert(document.cookie)']],
    ['data:', ['data:text/html,<script>alert(1)</script>']],
    ['file:', ['file:///etc/passwd']],
    ['http on a non-loopback host', ['http://evil.example/cb']],
    ['http on a host that only starts like localhost', ['http://localhost.evil.example/cb']],
    ['http on a host that only starts like 127.0.0.1', ['http://127.0.0.1.evil.example/cb']],
    ['userinfo on an allowed host', ['https://user@claude.ai/api/mcp/auth_callback']],
    ['userinfo on loopback', ['http://user:pass@127.0.0.1:33418/']],
    ['an empty list', []],
    ['not a URI', ['not a uri']],
    ['a relative reference', ['/api/mcp/auth_callback']],
  ];
  for (const [name, redirectUris] of refused) {
    test(`refuses ${name} with 400 invalid_redirect_uri`, async () => {
      const response = await register(server.issuer, { ...CLAUDE_DCR_BODY, redirect_uris: redirectUris });
      const body = await readJson(response);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(body.error, 'invalid_redirect_uri');
      assert.equal(body.client_id, undefined);
    });
  }
});

describe('redirect URI matching at /oauth/authorize', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer();
  });
  after(() => server.close());

  test('a loopback client may use the registered path on another port (RFC 8252 §7.3) and redeem the code', async () => {
    const client = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, redirect_uris: ['http://127.0.0.1:33418/callback'] });
    const redirectUri = 'http://127.0.0.1:49152/callback';
    const result = await connect(server.issuer, { clientId: client.client_id, redirectUri, scope: 'mcp:read', resource: RESOURCE, ...admin });
    assert.equal(`${result.callback.origin}${result.callback.pathname}`, redirectUri);
    const tokens = await redeem(server.issuer, client, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  });

  const mismatches: Array<[string, string[], string]> = [
    ['an https client using another allowed callback', [CLAUDE_CALLBACK], CLAUDE_COM_CALLBACK],
    ['an https client using a foreign URI', [CLAUDE_CALLBACK], 'https://evil.example/cb'],
    ['a loopback client using another path', ['http://127.0.0.1:33418/callback'], 'http://127.0.0.1:33418/other'],
    ['a loopback client using another loopback host', ['http://127.0.0.1:33418/callback'], 'http://localhost:33418/callback'],
  ];
  for (const [name, registered, used] of mismatches) {
    test(`${name} gets the error page, not a redirect`, async () => {
      const client = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, redirect_uris: registered });
      const { page } = await startAuthorization(server.issuer, { clientId: client.client_id, redirectUri: used, scope: 'mcp:read', resource: RESOURCE });
      assert.equal(page.status, 400);
      assert.equal(page.headers.get('location'), null);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(page.html, /invalid_redirect_uri/);
      assert.doesNotMatch(page.html, /name="password"/, 'no sign-in page for a request that must not come back');
      assertNoStackTrace(page.html, 'redirect mismatch page');
    });
  }
});

describe('registration body limits', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer();
  });
  after(() => server.close());

  const oversize = JSON.stringify({ ...CLAUDE_DCR_BODY, x_padding: 'x'.repeat(17 * 1024) });

  test('the default limit is 16 KiB', () => {
    assert.equal(server.config.authServer.registration.maxBodyBytes, 16 * 1024);
  });

  test('a body under the limit is accepted', async () => {
    const response = await register(server.issuer, { ...CLAUDE_DCR_BODY, x_padding: 'x'.repeat(8 * 1024) });
    assert.equal(response.status, 201, await response.text());
  });

  // oidc-provider's router ignores ASCII case and one trailing slash: each is its registration endpoint.
  for (const path of ['/oauth/register', '/oauth/register/', '/OAUTH/REGISTER']) {
    test(`a body over the limit at ${path}, with Content-Length, is 413 invalid_request`, async () => {
      const response = await fetch(`${server.issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: oversize });
      const body = await readJson(response);
      assert.equal(response.status, 413, JSON.stringify(body).slice(0, 300));
      assert.equal(body.error, 'invalid_request');
      assert.equal(body.client_id, undefined);
    });
  }

  function streamedOversize(): Promise<Response> {
    const bytes = new TextEncoder().encode(oversize);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 1024) controller.enqueue(bytes.slice(i, i + 1024));
        controller.close();
      },
    });
    return fetch(`${server.issuer}/oauth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
  }

  test('a body over the limit, streamed without Content-Length, is 413 invalid_request', async () => {
    const response = await streamedOversize();
    const body = await readJson(response);
    assert.equal(response.status, 413);
    assert.equal(body.error, 'invalid_request');
  });

  test('a refused body closes the connection, so the next request is not taken for the rest of it', async () => {
    for (let round = 0; round < 3; round += 1) {
      const refused = await streamedOversize();
      await refused.text();
      assert.equal(refused.status, 413);
      assert.equal(refused.headers.get('connection'), 'close');
      const declared = await register(server.issuer, oversize);
      await declared.text();
      assert.equal(declared.headers.get('connection'), 'close');
      for (let i = 0; i < 3; i += 1) {
        const next = await fetch(`${server.issuer}/oauth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(CLAUDE_DCR_BODY),
          signal: AbortSignal.timeout(2000),
        });
        await next.text();
        assert.equal(next.status, 201, `round ${round}, request ${i}`);
      }
    }
  });

  test('the limit is configurable', async () => {
    const small = await startAuthServer({ configure: (c) => { c.authServer.registration.maxBodyBytes = 1024; } });
    try {
      const response = await register(small.issuer, { ...CLAUDE_DCR_BODY, x_padding: 'x'.repeat(2048) });
      assert.equal(response.status, 413);
      assert.equal((await readJson(response)).error, 'invalid_request');
      const fits = await register(small.issuer, CLAUDE_DCR_BODY);
      assert.equal(fits.status, 201);
    } finally {
      await small.close();
    }
  });

  const malformed: Array<[string, string]> = [
    ['truncated JSON', '{"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"'],
    ['not JSON at all', 'redirect_uris=https://claude.ai/api/mcp/auth_callback'],
    ['a JSON array', JSON.stringify([CLAUDE_DCR_BODY])],
    ['a JSON string', JSON.stringify('hello')],
  ];
  for (const [name, text] of malformed) {
    test(`${name} is 400 with a JSON error and no stack trace`, async () => {
      const response = await register(server.issuer, text);
      assert.equal(response.status, 400);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      const body = await readJson(response);
      assert.equal(body.error, 'invalid_request');
      assert.equal(body.client_id, undefined);
    });
  }
});

describe('CORS for browser-based clients (MCP Inspector)', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer();
  });
  after(() => server.close());

  function preflight(path: string, origin: string) {
    return fetch(`${server.issuer}${path}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
  }

  test('/oauth/register answers a preflight from the Inspector and the POST carries Access-Control-Allow-Origin', async () => {
    const pre = await preflight('/oauth/register', INSPECTOR_ORIGIN);
    assert.equal(pre.status, 204);
    assert.ok(['*', INSPECTOR_ORIGIN].includes(pre.headers.get('access-control-allow-origin') ?? ''), String(pre.headers.get('access-control-allow-origin')));
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /content-type/i);
    assert.equal(pre.headers.get('access-control-allow-credentials'), null, 'anonymous registration never allows credentials');

    const response = await register(server.issuer, { ...CLAUDE_DCR_BODY, redirect_uris: [INSPECTOR_CALLBACK] }, { origin: INSPECTOR_ORIGIN });
    assert.equal(response.status, 201);
    assert.ok(['*', INSPECTOR_ORIGIN].includes(response.headers.get('access-control-allow-origin') ?? ''));
  });

  test('/oauth/token answers a preflight from the Inspector', async () => {
    const pre = await preflight('/oauth/token', INSPECTOR_ORIGIN);
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), INSPECTOR_ORIGIN);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
  });

  test("/oauth/token allows the origin of the client's redirect URI and refuses another origin", async () => {
    const client = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, redirect_uris: [INSPECTOR_CALLBACK] });
    const result = await connect(server.issuer, { clientId: client.client_id, redirectUri: INSPECTOR_CALLBACK, scope: 'mcp:read', resource: RESOURCE, ...admin });
    const params = { grant_type: 'authorization_code', client_id: client.client_id, code: result.code, code_verifier: result.verifier, redirect_uri: INSPECTOR_CALLBACK };

    const refused = await tokenRequest(server.issuer, params, { origin: 'https://evil.example' });
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error, 'invalid_request');
    assert.equal(refused.body.access_token, undefined);

    const allowed = await tokenRequest(server.issuer, params, { origin: INSPECTOR_ORIGIN });
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
    assert.equal(allowed.headers.get('access-control-allow-origin'), INSPECTOR_ORIGIN);
  });

  test('/oauth/authorize carries no Access-Control-Allow-Origin', async () => {
    const client = await registerClient(server.issuer);
    const { page } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE });
    assert.equal(page.headers.get('access-control-allow-origin'), null);
    const get = await fetch(`${server.issuer}/oauth/authorize?client_id=${client.client_id}`, { headers: { origin: INSPECTOR_ORIGIN }, redirect: 'manual' });
    assert.equal(get.headers.get('access-control-allow-origin'), null);
    const pre = await fetch(`${server.issuer}/oauth/authorize`, {
      method: 'OPTIONS',
      headers: { origin: INSPECTOR_ORIGIN, 'access-control-request-method': 'GET' },
    });
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
  });

  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/oauth/jwks']) {
    test(`${path} allows any origin`, async () => {
      for (const origin of [INSPECTOR_ORIGIN, 'https://anywhere.example']) {
        const response = await fetch(`${server.issuer}${path}`, { headers: { origin } });
        assert.equal(response.status, 200);
        assert.ok(['*', origin].includes(response.headers.get('access-control-allow-origin') ?? ''), `${origin}: ${String(response.headers.get('access-control-allow-origin'))}`);
      }
      const pre = await fetch(`${server.issuer}${path}`, {
        method: 'OPTIONS',
        headers: { origin: INSPECTOR_ORIGIN, 'access-control-request-method': 'GET' },
      });
      assert.equal(pre.status, 204);
      assert.ok(['*', INSPECTOR_ORIGIN].includes(pre.headers.get('access-control-allow-origin') ?? ''));
    });
  }
});

for (const backend of TEST_BACKENDS) describe(`unused registrations expire (${backend})`, () => {
  const UNUSED_CLIENT_TTL = 60;
  let server: TestAuthServer;
  before(async () => {
    // Expired rows are invisible at once (the adapter compares whole seconds), so the lifetime must
    // outlast one sign-in; the sweep below then runs with a clock past it.
    server = await startAuthServer({ backend, configure: (c) => { c.authServer.registration.unusedClientTtl = UNUSED_CLIENT_TTL; } });
  });
  after(() => server.close());

  test('a client that never obtained a token is swept, one that redeemed a code survives the same sweep', async () => {
    const unused = await registerClient(server.issuer);
    const used = await registerClient(server.issuer);
    const result = await connect(server.issuer, { clientId: used.client_id, scope: 'mcp:read', resource: RESOURCE, ...admin });
    const tokens = await redeem(server.issuer, used, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const stored = await new ModelStore(server.auth.database).clients();
    assert.equal(stored.find((c) => c.clientId === used.client_id)?.expiresAt, null, 'its expiry is gone by the time the tokens arrive');
    assert.notEqual(stored.find((c) => c.clientId === unused.client_id)?.expiresAt, null);

    // Before the sweep both can start an authorization.
    const before = await startAuthorization(server.issuer, { clientId: unused.client_id, scope: 'mcp:read', resource: RESOURCE });
    assert.match(before.page.html, /name="password"/, 'the unused client works until it expires');

    // Past the unused-client lifetime, long before the grant and refresh token expire.
    const swept = await new ModelStore(server.auth.database).sweepExpired(Math.floor(Date.now() / 1000) + 2 * UNUSED_CLIENT_TTL);
    assert.ok(swept >= 1, `swept ${swept} rows`);

    const gone = await startAuthorization(server.issuer, { clientId: unused.client_id, scope: 'mcp:read', resource: RESOURCE });
    assert.equal(gone.page.status, 400);
    assert.equal(gone.page.headers.get('location'), null);
    assert.match(gone.page.html, /invalid_client/);

    const again = await connect(server.issuer, { clientId: used.client_id, scope: 'mcp:read', resource: RESOURCE, ...admin });
    assert.ok(again.code, 'the client that obtained a token can still authorize');
    const refreshed = await refresh(server.issuer, used, tokens.body.refresh_token as string);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  });

  test('each registration\'s first token clears its own expiry, also once this server has kept other clients', async () => {
    const expiryOf = async (clientId: string) => (await new ModelStore(server.auth.database).clients()).find((c) => c.clientId === clientId)?.expiresAt;
    const earlier = await registerClient(server.issuer);
    const earlierTokens = await redeem(server.issuer, earlier, await connect(server.issuer, { clientId: earlier.client_id, scope: 'mcp:read', resource: RESOURCE, ...admin }));
    assert.equal((await refresh(server.issuer, earlier, earlierTokens.body.refresh_token as string)).status, 200);
    const later = await registerClient(server.issuer);
    assert.notEqual(await expiryOf(later.client_id), null, 'a fresh registration has an expiry');
    const tokens = await redeem(server.issuer, later, await connect(server.issuer, { clientId: later.client_id, scope: 'mcp:read', resource: RESOURCE, ...admin }));
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(await expiryOf(later.client_id), null);
    assert.equal(await expiryOf(earlier.client_id), null);
  });
});
