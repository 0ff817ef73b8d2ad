/**
 * The resource server's side of identity forwarding (apps/resource-server/src/gateway/
 * identity-tokens.ts) against a real auth-server: the caller's token, verified by the real
 * verifier, is exchanged for an identity token that verifies against the JWKS with the upstream's
 * audience; tokens are reused until shortly before they expire, concurrent requests share one
 * exchange (counted in the auth-server's audit log), and failures say what the auth-server said
 * without carrying a token or the secret.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { createAccessTokenVerifier, type VerifiedAccessToken } from '../../apps/resource-server/src/auth/verify-access-token.ts';
import { createIdentityTokens, REFRESH_MARGIN } from '../../apps/resource-server/src/gateway/identity-tokens.ts';
import { CLAUDE_DCR_BODY, connect, redeem, registerClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const UPSTREAM = 'http://127.0.0.1:3001/mcp';
const OTHER_UPSTREAM = 'https://tools.example.com/mcp';

function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/token` })));
}

describe('identity tokens: the resource server obtains them by token exchange', () => {
  let auth: TestAuthServer;
  let gateway: { clientId: string; clientSecret: string };
  let caller: VerifiedAccessToken;
  const clock = new TestClock();

  // Token events are written off the request path (audit-log.ts): flushed before they are counted.
  const exchanges = async () => {
    await auth.auth.admin.audit.flush();
    return (await auth.auth.admin.audit.query({ event: 'token.exchanged', limit: 1000 })).length;
  };
  const identityTokens = (overrides: Partial<Parameters<typeof createIdentityTokens>[0]> = {}) => createIdentityTokens({
    tokenEndpoint: `${auth.issuer}/oauth/token`, ...gateway, clock, ...overrides,
  });

  before(async () => {
    auth = await startAuthServer();
    const created = await auth.auth.admin.clients.createStatic({
      name: 'Gatehouse gateway', redirectUris: ['https://rs.example/cb'], authMethod: 'client_secret_basic',
      resourceServer: true, upstreamAudiences: [UPSTREAM, OTHER_UPSTREAM],
    }, CLI);
    gateway = { clientId: created.clientId, clientSecret: created.clientSecret! };
    const app = await registerClient(auth.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_post' });
    const result = await connect(auth.issuer, { clientId: app.client_id, scope: 'mcp:read mcp:write', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    const redeemed = await redeem(auth.issuer, app, result, { client_secret: app.client_secret! });
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    const verifier = createAccessTokenVerifier({ issuer: auth.issuer, resource: RESOURCE, jwksUri: `${auth.issuer}/oauth/jwks` });
    caller = await verifier.verifyAccessToken(redeemed.body.access_token as string);
  });
  after(() => auth.close());

  test('returns a token that verifies against the JWKS with the upstream as audience, naming the caller', async () => {
    const token = await identityTokens().tokenFor(caller, UPSTREAM, ['mcp:read']);
    assert.notEqual(token, caller.token);
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${auth.issuer}/oauth/jwks`)), {
      issuer: auth.issuer, audience: UPSTREAM, typ: 'at+jwt', algorithms: ['RS256'],
    });
    assert.equal(payload.sub, caller.extra.subject);
    assert.equal(payload.scope, 'mcp:read');
    assert.deepEqual(payload.act, { sub: gateway.clientId });
    assert.ok(payload.exp! - payload.iat! <= 300);
  });

  test('reuses a token for the same caller, audience and scopes; asks again for another audience or scope set', async () => {
    const tokens = identityTokens();
    const before = (await exchanges());
    const first = await tokens.tokenFor(caller, UPSTREAM, ['mcp:read', 'mcp:write']);
    assert.equal(await tokens.tokenFor(caller, UPSTREAM, ['mcp:write', 'mcp:read', 'mcp:read']), first);
    assert.equal((await exchanges()), before + 1, 'the second call made no request');
    const other = await tokens.tokenFor(caller, OTHER_UPSTREAM, ['mcp:read', 'mcp:write']);
    assert.equal(decodeJwt(other).aud, OTHER_UPSTREAM);
    const narrower = await tokens.tokenFor(caller, UPSTREAM, ['mcp:read']);
    assert.equal(decodeJwt(narrower).scope, 'mcp:read');
    assert.equal((await exchanges()), before + 3);
  });

  test('concurrent requests for one key share one exchange', async () => {
    const tokens = identityTokens();
    const before = (await exchanges());
    const all = await Promise.all(Array.from({ length: 8 }, () => tokens.tokenFor(caller, OTHER_UPSTREAM, ['mcp:write'])));
    assert.equal(new Set(all).size, 1);
    assert.equal((await exchanges()), before + 1);
  });

  test(`a cached token is handed out until ${REFRESH_MARGIN}s before its exp, then a fresh one is obtained`, async () => {
    const tokens = identityTokens();
    const start = clock.now();
    const first = await tokens.tokenFor(caller, UPSTREAM, ['mcp:write']);
    // expires_in (RFC 8693 §2.2.1) counts from when the answer arrived, on the resource server's clock.
    const { exp, iat } = decodeJwt(first);
    const stale = Math.floor(start / 1000) + exp! - iat! - REFRESH_MARGIN;
    try {
      clock.set((stale - 1) * 1000);
      assert.equal(await tokens.tokenFor(caller, UPSTREAM, ['mcp:write']), first);
      const before = (await exchanges());
      clock.set(stale * 1000);
      const second = await tokens.tokenFor(caller, UPSTREAM, ['mcp:write']);
      assert.equal((await exchanges()), before + 1);
      assert.notEqual(second, first);
    } finally {
      clock.set(start);
    }
  });

  test('one caller giving up does not stop the shared exchange for the others', async () => {
    const tokens = identityTokens();
    const controller = new AbortController();
    const abandoned = tokens.tokenFor(caller, UPSTREAM, ['mcp:read', 'mcp:write', 'mcp:read'], controller.signal);
    const kept = tokens.tokenFor(caller, UPSTREAM, ['mcp:read', 'mcp:write']);
    controller.abort(new Error('client went away'));
    await assert.rejects(abandoned, /client went away/);
    assert.equal(typeof await kept, 'string');
  });

  describe('failures name the auth-server\'s error, never a token or the secret', () => {
    const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
      ['an upstream not on the client\'s list', () => identityTokens().tokenFor(caller, 'http://127.0.0.1:9/mcp', ['mcp:read']), /identity token for http:\/\/127\.0\.0\.1:9\/mcp: the auth-server refused: invalid_target: /],
      ['a scope the caller lacks', () => identityTokens().tokenFor(caller, UPSTREAM, ['mcp:admin']), /refused: invalid_scope: /],
      ['a wrong client secret', () => identityTokens({ clientSecret: 'wrong secret' }).tokenFor(caller, UPSTREAM, ['mcp:read']), /refused: invalid_client/],
      ['a client that is no resource server', async () => {
        const plain = await auth.auth.admin.clients.createStatic({ name: 'Plain', redirectUris: ['https://p.example/cb'], authMethod: 'client_secret_basic' }, CLI);
        return identityTokens({ clientId: plain.clientId, clientSecret: plain.clientSecret! }).tokenFor(caller, UPSTREAM, ['mcp:read']);
      }, /refused: unauthorized_client/],
      ['a caller token the auth-server does not accept', () => identityTokens().tokenFor({ ...caller, token: `${caller.token.slice(0, -4)}AAAA` }, UPSTREAM, ['mcp:read']), /refused: invalid_grant: /],
      ['no scope at all (a caller mistake)', () => identityTokens().tokenFor(caller, UPSTREAM, []), /at least one scope/],
    ];
    for (const [label, call, expected] of cases) {
      test(label, async () => {
        const error = await call().then(() => assert.fail('expected a failure'), (err: Error) => err);
        assert.match(error.message, expected);
        for (const secret of [caller.token, gateway.clientSecret]) assert.ok(!error.message.includes(secret), error.message);
      });
    }

    test('an auth-server that is down, hangs, answers 5xx, an oversized or a non-RFC body: a plain error', async () => {
      const hang = await listen(() => {});
      const oversized = await listen((_req, res) => res.end(JSON.stringify({ access_token: 'x'.repeat(100_000), token_type: 'Bearer', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', expires_in: 300 })));
      const broken = await listen((_req, res) => { res.statusCode = 502; res.end('<html>bad gateway</html>'); });
      const odd = await listen((_req, res) => res.end(JSON.stringify({ access_token: 'abc', token_type: 'Bearer', expires_in: 300 })));
      const echo = await listen((req, res) => {
        let body = '';
        req.on('data', (chunk) => { body += String(chunk); });
        req.on('end', () => { res.statusCode = 400; res.end(JSON.stringify({ error: 'invalid_request', error_description: `you sent ${body} with ${req.headers.authorization}` })); });
      });
      // Echoes the Authorization header: the gateway's id and secret, base64-encoded.
      const echoCredentials = await listen((req, res) => {
        res.statusCode = 401;
        res.end(JSON.stringify({ error: 'invalid_client', error_description: `bad credentials: ${req.headers.authorization}` }));
      });
      // Echoes the secret it decoded, late in a long description: where the description is cut.
      const echoSecretLate = await listen((req, res) => {
        const secret = decodeURIComponent(Buffer.from(String(req.headers.authorization).slice('Basic '.length), 'base64').toString().split(':')[1]!);
        res.statusCode = 401;
        res.end(JSON.stringify({ error: 'invalid_client', error_description: `${'x'.repeat(280)} ${secret}` }));
      });
      const down = await listen(() => {});
      down.server.close();
      try {
        const table: Array<[string, string, RegExp, number?]> = [
          ['down', down.url, /could not be reached/],
          ['hangs', hang.url, /did not answer within 200 ms/, 200],
          ['5xx', broken.url, /the auth-server answered 502/],
          ['oversized', oversized.url, /not a token exchange response/],
          ['no issued_token_type', odd.url, /not a token exchange response/],
          ['echoes the request', echo.url, /refused: invalid_request: you sent/],
          ['echoes the Authorization header', echoCredentials.url, /refused: invalid_client: bad credentials: /],
          ['echoes the secret where the description is cut', echoSecretLate.url, /refused: invalid_client: x+/],
        ];
        // What the gateway sends: RFC 6749 §2.3.1, its id and secret form-encoded, joined, base64.
        const credentials = Buffer.from(`${encodeURIComponent(gateway.clientId)}:${encodeURIComponent(gateway.clientSecret)}`).toString('base64');
        for (const [label, tokenEndpoint, expected, timeout] of table) {
          const error = await identityTokens({ tokenEndpoint, timeout }).tokenFor(caller, UPSTREAM, ['mcp:read']).then(() => assert.fail(label), (err: Error) => err);
          assert.match(error.message, expected, label);
          assert.ok(!error.message.includes(caller.token.slice(0, 300)) && !error.message.includes(gateway.clientSecret), `${label}: ${error.message}`);
          assert.ok(!error.message.includes(credentials), `${label}: the gateway's credentials, base64-encoded: ${error.message}`);
          assert.ok(!error.message.includes(gateway.clientSecret.slice(0, 12)), `${label}: a part of the secret: ${error.message}`);
        }
      } finally {
        for (const { server } of [hang, oversized, broken, odd, echo, echoCredentials, echoSecretLate]) {
          server.closeAllConnections();
          server.close();
        }
      }
    });

    test('a failure is not cached: the next call asks again', async () => {
      let requests = 0;
      const refusing = await listen((_req, res) => {
        requests += 1;
        res.statusCode = 400;
        res.end(JSON.stringify({ error: 'invalid_target' }));
      });
      try {
        const tokens = identityTokens({ tokenEndpoint: refusing.url });
        await assert.rejects(tokens.tokenFor(caller, UPSTREAM, ['mcp:read']), /refused: invalid_target$/);
        await assert.rejects(tokens.tokenFor(caller, UPSTREAM, ['mcp:read']), /refused: invalid_target$/);
        assert.equal(requests, 2);
      } finally {
        refusing.server.closeAllConnections();
        refusing.server.close();
      }
    });
  });
});
