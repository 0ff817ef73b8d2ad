import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { Browser, formAction, inputValue, type PageResult } from '../helpers/browser.ts';
import {
  assertNoStackTrace, authorizeUrl, CLAUDE_CALLBACK, connect, decide, redeem, refresh, registerClient, signIn, startAuthorization,
  type AuthorizeRequest, type RegisteredClient,
} from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const SIGN_IN_FAILED = 'Incorrect username or password.';
const admin = { username: 'admin', password: ADMIN_PASSWORD };

/** The browser was sent back to the client's callback: returns the callback URL. */
function callbackOf(page: PageResult, redirectUri = CLAUDE_CALLBACK): URL {
  assert.ok(page.status >= 300 && page.status < 400, `expected a redirect to the client, got ${page.status}\n${page.html.slice(0, 400)}`);
  const url = new URL(page.url);
  assert.equal(`${url.origin}${url.pathname}`, redirectUri);
  return url;
}

/** The browser stayed on our server: no Location header, no redirect to the client. */
function assertNoRedirect(page: PageResult, status: number): void {
  assert.equal(page.status, status, page.html.slice(0, 400));
  assert.equal(page.headers.get('location'), null);
  assert.ok(page.url.startsWith('http://127.0.0.1:'), `left the server for ${page.url}`);
  assertNoStackTrace(page.html, page.url);
}

function assertNoToken(response: { body: Record<string, unknown> }): void {
  assert.equal(response.body.access_token, undefined);
  assert.equal(response.body.refresh_token, undefined);
}

async function createUser(server: TestAuthServer, username: string, password: string, scopes: string[]) {
  return (await server.auth.users.create({ username, passwordHash: await server.auth.hasher.hash(password), scopes }))!;
}

describe('PKCE S256 is required', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  before(async () => {
    server = await startAuthServer();
    client = await registerClient(server.issuer);
  });
  after(() => server.close());

  const refusedAtAuthorize: Array<[string, Partial<AuthorizeRequest>]> = [
    ['no code_challenge and no method', { codeChallenge: null, codeChallengeMethod: null }],
    ['code_challenge_method S256 without a code_challenge', { codeChallenge: null }],
    ['code_challenge_method=plain', { codeChallengeMethod: 'plain' }],
    ['a code_challenge without a method (plain by default)', { codeChallengeMethod: null }],
    ['a code_challenge that is too short', { codeChallenge: 'tooshort' }],
  ];
  for (const [name, request] of refusedAtAuthorize) {
    test(`/authorize with ${name} sends invalid_request back to the client, before any sign-in`, async () => {
      const { page } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, state: 'pkce-state', ...request });
      const callback = callbackOf(page);
      assert.equal(callback.searchParams.get('error'), 'invalid_request');
      assert.equal(callback.searchParams.get('state'), 'pkce-state');
      assert.equal(callback.searchParams.get('iss'), server.issuer);
      assert.equal(callback.searchParams.get('code'), null);
    });
  }

  const badVerifiers: Array<[string, (verifier: string) => Record<string, string>]> = [
    ['a wrong code_verifier', () => ({ code_verifier: 'x'.repeat(43) })],
    ['no code_verifier', () => ({ code_verifier: '' })],
    ['the verifier with one character changed', (v) => ({ code_verifier: `${v.slice(0, -1)}${v.endsWith('A') ? 'B' : 'A'}` })],
  ];
  for (const [name, params] of badVerifiers) {
    test(`/token with ${name} is 400 invalid_grant and issues nothing`, async () => {
      const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, ...admin });
      const refused = await redeem(server.issuer, client, result, params(result.verifier));
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.equal(refused.body.error, 'invalid_grant');
      assertNoToken(refused);
    });
  }
});

describe('authorization codes', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer();
  });
  after(() => server.close());

  test('a replayed code is invalid_grant and revokes the refresh token issued for it', async () => {
    const client = await registerClient(server.issuer);
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, ...admin });
    const first = await redeem(server.issuer, client, result);
    assert.equal(first.status, 200, JSON.stringify(first.body));

    const replay = await redeem(server.issuer, client, result);
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
    assertNoToken(replay);

    const afterReplay = await refresh(server.issuer, client, first.body.refresh_token as string);
    assert.equal(afterReplay.status, 400, 'the refresh token from the first redemption must stop working');
    assert.equal(afterReplay.body.error, 'invalid_grant');
    assertNoToken(afterReplay);
  });

  test("a code is bound to its client: another client cannot redeem it", async () => {
    const owner = await registerClient(server.issuer);
    const thief = await registerClient(server.issuer);
    const result = await connect(server.issuer, { clientId: owner.client_id, scope: 'mcp:read', resource: RESOURCE, ...admin });
    const stolen = await redeem(server.issuer, thief, result);
    assert.equal(stolen.status, 400);
    assert.equal(stolen.body.error, 'invalid_grant');
    assertNoToken(stolen);
  });
});

describe('resource indicators (RFC 8707)', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  let browser: Browser;
  before(async () => {
    server = await startAuthServer();
    client = await registerClient(server.issuer);
    browser = new Browser(server.issuer);
  });
  after(() => server.close());

  async function tokensFor(request: Partial<AuthorizeRequest>, tokenExtra: Record<string, string> = {}) {
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, ...admin, browser, ...request });
    const tokens = await redeem(server.issuer, client, result, tokenExtra);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    return tokens.body as { access_token: string; refresh_token: string };
  }

  const unknownResources = [
    'https://evil.example/mcp',
    `${RESOURCE}/other`,
    `${RESOURCE}//`,
    'http://localhost:4001',
    'http://localhost:4001/',
    'mcp',
  ];
  for (const resource of unknownResources) {
    test(`/authorize with the unknown resource ${resource} sends invalid_target back to the client`, async () => {
      const { page } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource, state: 'rs-state' }, new Browser(server.issuer));
      const callback = callbackOf(page);
      assert.equal(callback.searchParams.get('error'), 'invalid_target');
      assert.equal(callback.searchParams.get('state'), 'rs-state');
      assert.equal(callback.searchParams.get('code'), null);
    });
  }

  test('the trailing-slash resource is the same resource at /authorize, /token and refresh, and refresh keeps working', async () => {
    const slash = `${RESOURCE}/`;
    const tokens = await tokensFor({ resource: slash }, { resource: slash });
    assert.equal(decodeJwt(tokens.access_token).aud, RESOURCE);

    let refreshToken = tokens.refresh_token;
    for (let round = 1; round <= 2; round += 1) {
      const refreshed = await refresh(server.issuer, client, refreshToken, { resource: slash });
      assert.equal(refreshed.status, 200, `refresh ${round}: ${JSON.stringify(refreshed.body)}`);
      assert.equal(decodeJwt(refreshed.body.access_token as string).aud, RESOURCE);
      refreshToken = refreshed.body.refresh_token as string;
    }
  });

  test('a request without any resource gets a token for RESOURCE_URL', async () => {
    const tokens = await tokensFor({ resource: null });
    assert.equal(decodeJwt(tokens.access_token).aud, RESOURCE);
    const refreshed = await refresh(server.issuer, client, tokens.refresh_token);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.equal(decodeJwt(refreshed.body.access_token as string).aud, RESOURCE);
  });

  /** A token request with `resource` repeated once per value (RFC 8707 §2). */
  async function tokenWithResources(params: Record<string, string>, resources: string[], path = '/oauth/token') {
    const body = new URLSearchParams(params);
    for (const resource of resources) body.append('resource', resource);
    const response = await fetch(`${server.issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    return { status: response.status, body: await response.json() as Record<string, unknown> };
  }

  const unknownAtToken = [
    ['https://evil.example/mcp'],
    [`${RESOURCE}/other`],
    [`${RESOURCE}//`],
    [RESOURCE, 'https://evil.example/mcp'],
  ];

  test('an unknown resource at refresh is invalid_target and does not consume the refresh token', async () => {
    const tokens = await tokensFor({});
    for (const resources of unknownAtToken) {
      const refused = await tokenWithResources({ grant_type: 'refresh_token', client_id: client.client_id, refresh_token: tokens.refresh_token }, resources);
      assert.equal(refused.status, 400, `${resources.join(', ')}: ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.error, 'invalid_target', resources.join(', '));
      assertNoToken(refused);
    }
    const stillWorks = await refresh(server.issuer, client, tokens.refresh_token, { resource: RESOURCE });
    assert.equal(stillWorks.status, 200, `the refresh token was consumed by a refused request: ${JSON.stringify(stillWorks.body)}`);
    assert.equal(decodeJwt(stillWorks.body.access_token as string).aud, RESOURCE);
  });

  // oidc-provider's router ignores ASCII case and one trailing slash: these are its token endpoint too.
  for (const path of ['/oauth/token/', '/OAUTH/TOKEN', '/oauth/Token/']) {
    test(`${path} is the token endpoint for resource checks too: a foreign resource consumes nothing, the slash form is normalised`, async () => {
      const tokens = await tokensFor({});
      const refused = await tokenWithResources({ grant_type: 'refresh_token', client_id: client.client_id, refresh_token: tokens.refresh_token }, ['https://evil.example/mcp'], path);
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.equal(refused.body.error, 'invalid_target');
      assertNoToken(refused);
      const refreshed = await tokenWithResources({ grant_type: 'refresh_token', client_id: client.client_id, refresh_token: tokens.refresh_token }, [`${RESOURCE}/`], path);
      assert.equal(refreshed.status, 200, `the refused request consumed the refresh token, or the slash was not normalised: ${JSON.stringify(refreshed.body)}`);
      assert.equal(decodeJwt(refreshed.body.access_token as string).aud, RESOURCE);
    });
  }

  test('/oauth/authorize/ (trailing slash) also treats the trailing-slash resource as RESOURCE_URL', async () => {
    const { challenge, verifier } = createPkce();
    const url = authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: `${RESOURCE}/` }, challenge);
    url.pathname = '/oauth/authorize/';
    const page = await browser.navigate(url);
    const callback = callbackOf(page);
    assert.equal(callback.searchParams.get('error'), null, callback.href);
    const tokens = await redeem(server.issuer, client, { callback, code: callback.searchParams.get('code')!, verifier, redirectUri: CLAUDE_CALLBACK, browser });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(decodeJwt(tokens.body.access_token as string).aud, RESOURCE);
  });

  test('an unknown resource at code redemption is invalid_target and does not consume the code', async () => {
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, ...admin, browser });
    for (const resources of unknownAtToken) {
      const refused = await tokenWithResources({
        grant_type: 'authorization_code', client_id: client.client_id, code: result.code, code_verifier: result.verifier, redirect_uri: result.redirectUri,
      }, resources);
      assert.equal(refused.status, 400, `${resources.join(', ')}: ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.error, 'invalid_target', resources.join(', '));
      assertNoToken(refused);
    }
    const tokens = await redeem(server.issuer, client, result, { resource: RESOURCE });
    assert.equal(tokens.status, 200, `the code was consumed by a refused request: ${JSON.stringify(tokens.body)}`);
  });
});

describe('scopes', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer();
  });
  after(() => server.close());

  test('a request without scope gets the configured default scopes', async () => {
    assert.deepEqual(server.config.authServer.defaultScopes, ['mcp:read']);
    const client = await registerClient(server.issuer);
    const result = await connect(server.issuer, { clientId: client.client_id, resource: RESOURCE, ...admin });
    const tokens = await redeem(server.issuer, client, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(tokens.body.scope, 'mcp:read');
    assert.equal(decodeJwt(tokens.body.access_token as string).scope, 'mcp:read');
  });

  // A plain OAuth request naming none of the resource's scopes went through sign-in and consent
  // and was then sent back with access_denied: the consent had nothing to grant.
  const namingNothingOfTheResource: Array<[string, string, string]> = [
    ['only offline_access', 'offline_access', 'mcp:read'],
    ["only a scope the server does not know (Claude's claudeai)", 'claudeai', 'mcp:read'],
    ['an unknown scope and offline_access', 'claudeai offline_access', 'mcp:read'],
  ];
  for (const [name, scope, granted] of namingNothingOfTheResource) {
    test(`a request asking for ${name} gets the default scopes beside it`, async () => {
      const client = await registerClient(server.issuer);
      const result = await connect(server.issuer, { clientId: client.client_id, scope, resource: RESOURCE, ...admin });
      const tokens = await redeem(server.issuer, client, result);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      assert.equal(decodeJwt(tokens.body.access_token as string).scope, granted);
      const refreshed = await refresh(server.issuer, client, tokens.body.refresh_token as string);
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      assert.equal(decodeJwt(refreshed.body.access_token as string).scope, granted);
    });
  }

  test('an OpenID request naming only identity scopes is left as it came: its access token carries no resource scope', async () => {
    const client = await registerClient(server.issuer);
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'openid profile', resource: RESOURCE, ...admin });
    const tokens = await redeem(server.issuer, client, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.ok(tokens.body.id_token, 'who signed in');
    assert.equal(decodeJwt(tokens.body.access_token as string).scope, undefined);
  });

  test('a scope with a trailing space is still refused (invalid_scope), not mended by the default scopes', async () => {
    const client = await registerClient(server.issuer);
    const url = authorizeUrl(server.issuer, { clientId: client.client_id, resource: RESOURCE, state: 'scope-state' }, createPkce().challenge);
    url.searchParams.set('scope', 'offline_access ');
    const callback = callbackOf(await new Browser(server.issuer).navigate(url));
    assert.equal(callback.searchParams.get('error'), 'invalid_scope', callback.href);
  });

  const repeatedScopes: Array<[string, string[]]> = [
    ['an empty scope, then an admin scope', ['', 'mcp:admin']],
    ['a blank scope, then a read scope', [' ', 'mcp:read']],
    ['two empty scopes', ['', '']],
    ['a read scope twice', ['mcp:read', 'mcp:read']],
  ];
  for (const [name, scopes] of repeatedScopes) {
    test(`/authorize with ${name} sends invalid_request back to the client, before any sign-in`, async () => {
      const client = await registerClient(server.issuer);
      const url = authorizeUrl(server.issuer, { clientId: client.client_id, resource: RESOURCE, state: 'scope-state' }, createPkce().challenge);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      const callback = callbackOf(await new Browser(server.issuer).navigate(url));
      assert.equal(callback.searchParams.get('error'), 'invalid_request', callback.href);
      assert.equal(callback.searchParams.get('error_description'), "'scope' parameter must not be provided twice");
      assert.equal(callback.searchParams.get('state'), 'scope-state');
      assert.equal(callback.searchParams.get('code'), null);
    });
  }

  test("a user's grantable scopes cap what the token carries", async () => {
    await createUser(server, 'reader', 'reader-password-1', ['mcp:read']);
    const client = await registerClient(server.issuer);
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read mcp:write', resource: RESOURCE, username: 'reader', password: 'reader-password-1' });
    const tokens = await redeem(server.issuer, client, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(tokens.body.scope, 'mcp:read');
    assert.equal(decodeJwt(tokens.body.access_token as string).scope, 'mcp:read');
    const refreshed = await refresh(server.issuer, client, tokens.body.refresh_token as string);
    assert.equal(decodeJwt(refreshed.body.access_token as string).scope, 'mcp:read', 'refresh does not widen the scope');
  });

  test('approving with only some scopes ticked grants only those', async () => {
    const client = await registerClient(server.issuer);
    const result = await connect(server.issuer, {
      clientId: client.client_id, scope: 'mcp:read mcp:write', resource: RESOURCE, ...admin, approveScopes: ['mcp:read'],
    });
    const tokens = await redeem(server.issuer, client, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(decodeJwt(tokens.body.access_token as string).scope, 'mcp:read');
  });
});

describe('consent, sign-in and error pages', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  before(async () => {
    server = await startAuthServer();
    client = await registerClient(server.issuer);
  });
  after(() => server.close());

  const authorize = (browser?: Browser, request: Partial<AuthorizeRequest> = {}) =>
    startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, state: 'page-state', ...request }, browser);

  test('deny on the consent page sends access_denied and the state back to the client', async () => {
    const { page, browser } = await authorize();
    const consent = await signIn(browser, page, admin.username, admin.password);
    const denied = await decide(browser, consent, 'deny');
    const callback = callbackOf(denied);
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.equal(callback.searchParams.get('state'), 'page-state');
    assert.equal(callback.searchParams.get('iss'), server.issuer);
    assert.equal(callback.searchParams.get('code'), null);
  });

  test('an unknown client_id gets the HTML error page with status 400 and no Location', async () => {
    const { page } = await authorize(undefined, { clientId: 'no-such-client' });
    assertNoRedirect(page, 400);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.html, /invalid_client/);
  });

  const failedSignIns: Array<[string, (s: TestAuthServer) => Promise<{ username: string; password: string }>]> = [
    ['a wrong password', async () => ({ username: 'admin', password: 'wrong password' })],
    ['an unknown user', async () => ({ username: 'nobody-here', password: ADMIN_PASSWORD })],
    ['a disabled user with the right password', async (s) => {
      const user = await createUser(s, 'former-colleague', 'former-password-1', ['mcp:read']);
      await s.auth.users.update(user.id, { disabled: true });
      return { username: 'former-colleague', password: 'former-password-1' };
    }],
  ];
  for (const [name, credentials] of failedSignIns) {
    test(`${name} gets the generic message and no redirect`, async () => {
      const { username, password } = await credentials(server);
      const { page, browser } = await authorize();
      const after = await signIn(browser, page, username, password);
      assertNoRedirect(after, 400);
      assert.match(after.html, new RegExp(`<[^>]*role="alert"[^>]*>\\s*${SIGN_IN_FAILED.replace('.', '\\.')}\\s*<`));
      assert.match(after.html, /name="password"/, 'the sign-in form is shown again');
      assert.doesNotMatch(after.html, /disabled|locked|unknown|not found/i, 'the page does not say why');
    });
  }

  test('a user disabled after sign-in can neither redeem a pending code nor use their refresh token', async () => {
    const user = await createUser(server, 'soon-disabled', 'soon-disabled-password', ['mcp:read']);
    const credentials = { username: 'soon-disabled', password: 'soon-disabled-password' };
    const first = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, ...credentials });
    const tokens = await redeem(server.issuer, client, first);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const pending = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, ...credentials, browser: first.browser });

    await server.auth.users.update(user.id, { disabled: true });

    const refreshed = await refresh(server.issuer, client, tokens.body.refresh_token as string);
    assert.equal(refreshed.status, 400);
    assert.equal(refreshed.body.error, 'invalid_grant');
    assertNoToken(refreshed);
    const redeemed = await redeem(server.issuer, client, pending);
    assert.equal(redeemed.status, 400);
    assert.equal(redeemed.body.error, 'invalid_grant');
    assertNoToken(redeemed);
  });
});

describe('errors never show a stack trace', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer();
  });
  after(() => server.close());

  const form = (body: string, headers: Record<string, string> = {}): RequestInit => ({
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body,
  });
  const json = (body: string): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const cases: Array<[string, string, RequestInit, number, 'html' | 'json']> = [
    ['an unknown client at /authorize', '/oauth/authorize?response_type=code&client_id=nope&redirect_uri=https%3A%2F%2Fclaude.ai%2Fapi%2Fmcp%2Fauth_callback', {}, 400, 'html'],
    ['an empty /authorize', '/oauth/authorize', {}, 400, 'html'],
    ['an unknown interaction', '/interaction/does-not-exist', {}, 400, 'html'],
    ['a login post to an unknown interaction', '/interaction/does-not-exist/login', form('username=a&password=b'), 400, 'html'],
    ['a consent post to an unknown interaction', '/interaction/does-not-exist/consent', form('decision=approve'), 400, 'html'],
    ['/token without client authentication', '/oauth/token', form('grant_type=authorization_code&code=x'), 400, 'json'],
    ['/token with an unknown client', '/oauth/token', form('grant_type=authorization_code&client_id=nope&code=x'), 401, 'json'],
    ['/token with a malformed Basic header', '/oauth/token', form('grant_type=refresh_token&refresh_token=x', { authorization: 'Basic !!!' }), 400, 'json'],
    ['/token with a JSON body', '/oauth/token', json('{"grant_type":'), 400, 'json'],
    ['/token with an oversize body', '/oauth/token', form(`a=${'x'.repeat(20 * 1024)}`), 413, 'json'],
    ['/register with malformed JSON', '/oauth/register', json('{"redirect_uris": ['), 400, 'json'],
    ['/register with a form body', '/oauth/register', form('redirect_uris=x'), 400, 'json'],
    ['/introspect without client authentication', '/oauth/introspect', form('token=x'), 400, 'json'],
    ['/revoke with an unknown client', '/oauth/revoke', form('token=x&client_id=nope'), 401, 'json'],
  ];
  for (const [name, path, init, status, kind] of cases) {
    test(`${name}: ${status} ${kind}, no stack trace`, async () => {
      const response = await fetch(`${server.issuer}${path}`, { redirect: 'manual', ...init });
      const body = await response.text();
      assert.equal(response.status, status, body.slice(0, 400));
      assert.equal(response.headers.get('location'), null);
      assert.match(response.headers.get('content-type') ?? '', kind === 'html' ? /^text\/html/ : /^application\/json/);
      assertNoStackTrace(body, name);
      if (kind === 'json') assert.match(String((JSON.parse(body) as { error?: unknown }).error), /^[a-z_]+$/);
    });
  }
});

describe('CSRF on the sign-in and consent forms', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  before(async () => {
    server = await startAuthServer();
    client = await registerClient(server.issuer);
  });
  after(() => server.close());

  const authorize = (browser: Browser) =>
    startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, browser).then((r) => r.page);

  async function post(browser: Browser, page: PageResult, fields: Record<string, string>): Promise<PageResult> {
    return browser.submit(formAction(page.html), fields, page.url);
  }

  const badTokens = (own: string, other: string) => [
    ['no token', undefined],
    ['a wrong token', 'A'.repeat(own.length)],
    ["another interaction's token from this browser", other],
  ] as const;

  test('the sign-in form refuses a missing, a wrong and another interaction’s csrf token with 403', async () => {
    const browser = new Browser(server.issuer);
    const earlier = await authorize(browser);
    const login = await authorize(browser);
    assert.notEqual(formAction(login.html), formAction(earlier.html), 'two interactions');
    const ownToken = inputValue(login.html, 'csrf')!;
    const otherToken = inputValue(earlier.html, 'csrf')!;
    assert.notEqual(otherToken, ownToken);

    const credentials = { username: admin.username, password: admin.password };
    for (const [what, csrf] of badTokens(ownToken, otherToken)) {
      const refused = await post(browser, login, { ...credentials, ...(csrf === undefined ? {} : { csrf }) });
      assertNoRedirect(refused, 403);
      assert.doesNotMatch(refused.html, /name="decision"/, `${what}: signed in anyway`);
    }

    const accepted = await post(browser, login, { ...credentials, csrf: ownToken });
    assert.match(accepted.html, /name="decision"/, 'the right token signs in');
  });

  test('the consent form refuses a missing, a wrong and another interaction’s csrf token with 403', async () => {
    const browser = new Browser(server.issuer);
    const earlier = await signIn(browser, await authorize(browser), admin.username, admin.password);
    const consent = await authorize(browser);
    assert.match(earlier.html, /name="decision"/);
    assert.match(consent.html, /name="decision"/, 'signed in: the next authorization goes straight to consent');
    assert.notEqual(formAction(consent.html), formAction(earlier.html), 'two interactions');
    const ownToken = inputValue(consent.html, 'csrf')!;
    const otherToken = inputValue(earlier.html, 'csrf')!;
    assert.notEqual(ownToken, otherToken);

    for (const [what, csrf] of badTokens(ownToken, otherToken)) {
      const refused = await post(browser, consent, { decision: 'approve', ...(csrf === undefined ? {} : { csrf }) });
      assertNoRedirect(refused, 403);
      assert.doesNotMatch(refused.html, /[?&]code=/, `${what}: a code was issued`);
    }

    const accepted = await post(browser, consent, { decision: 'approve', csrf: ownToken });
    assert.ok(callbackOf(accepted).searchParams.get('code'), 'the right token approves');
  });
});
