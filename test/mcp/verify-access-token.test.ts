/**
 * The verifier on its own: what it returns, its cache, and how it uses (and refuses to use) the
 * issuer's JWKS: fetched only from the configured URL, refetched on an unknown kid at most once
 * per cooldown, with a timeout, a failed fetch held (not retried per request), cached keys kept
 * verifying for a bounded time while the JWKS cannot be fetched, and a failure to fetch kept apart
 * from a bad token.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { pino } from 'pino';
import {
  createAccessTokenVerifier, FAILED_FETCH_HOLD_MS, InvalidAccessTokenError, JWKS_MAX_AGE_MS, JWKS_MAX_STALENESS_MS, KeySetUnavailableError, MAX_JWKS_BYTES,
  type AccessTokenVerifierOptions,
} from '../../apps/resource-server/src/auth/verify-access-token.ts';
import { TokenCache } from '../../apps/resource-server/src/auth/token-cache.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { startTestIssuer, TEST_RESOURCE, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer } from '../helpers/start-resource-server.ts';
import { mcpRequest } from '../helpers/mcp-http.ts';

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function stop(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

describe('verifyAccessToken', () => {
  let issuer: TestIssuer;
  const verifierFor = (options: Partial<AccessTokenVerifierOptions> = {}) => createAccessTokenVerifier({
    issuer: issuer.issuer, resource: TEST_RESOURCE, jwksUri: issuer.jwksUri, ...options,
  });

  before(async () => {
    issuer = await startTestIssuer();
  });
  after(() => issuer?.close());

  test('returns the caller as the token says: subject, username, client, scopes, expiry, resource', async () => {
    const exp = Math.floor(Date.now() / 1000) + 1800;
    const token = await issuer.mint({ claims: { sub: 'user-1', preferred_username: 'alice', client_id: 'claude', scope: 'mcp:read  mcp:write', exp, jti: 'jti-1' } });
    const verified = await verifierFor().verifyAccessToken(token);
    assert.deepEqual(
      { ...verified, resource: verified.resource?.href },
      {
        token,
        clientId: 'claude',
        scopes: ['mcp:read', 'mcp:write'],
        expiresAt: exp,
        resource: TEST_RESOURCE,
        extra: { subject: 'user-1', username: 'alice', tokenId: 'jti-1' },
      },
    );
  });

  test('answers a repeated token from its cache', async () => {
    const verifier = verifierFor();
    const token = await issuer.mint();
    assert.equal(await verifier.verifyAccessToken(token), await verifier.verifyAccessToken(token));
  });

  test('verifies every time when the cache size is 0', async () => {
    const verifier = verifierFor({ cacheSize: 0 });
    const token = await issuer.mint();
    assert.notEqual(await verifier.verifyAccessToken(token), await verifier.verifyAccessToken(token));
  });

  test('does not answer from the cache once the token has expired', async () => {
    const clock = new TestClock();
    const verifier = verifierFor({ clockTolerance: 0, clock });
    const token = await issuer.mint({ claims: { exp: clock.epochSeconds() + 1 } });
    await verifier.verifyAccessToken(token);
    clock.advance(2);
    await assert.rejects(verifier.verifyAccessToken(token), (err) => err instanceof InvalidAccessTokenError && err.reason === 'expired');
  });

  test('tells onFirstUse once per token: on the verification, not on the cached answers after it', async () => {
    const verifier = verifierFor();
    const token = await issuer.mint({ claims: { gid: 'grant-1' } });
    const firstUses: string[] = [];
    for (let i = 0; i < 5; i++) await verifier.verifyAccessToken(token, (verified) => firstUses.push(verified.extra.grantId!));
    assert.deepEqual(firstUses, ['grant-1']);
  });

  test("a refusal carries the token's claims when its signature verified, and none when it did not", async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await issuer.mint({ claims: { client_id: 'claude', sub: 'user-1', gid: 'grant-1', iat: now - 700, exp: now - 100 } });
    const refusal = await verifierFor().verifyAccessToken(expired).catch((err: unknown) => err);
    assert.ok(refusal instanceof InvalidAccessTokenError);
    assert.equal(refusal.reason, 'expired');
    assert.deepEqual(refusal.claims, { clientId: 'claude', subject: 'user-1', grantId: 'grant-1', scope: 'mcp:read mcp:write', issuer: issuer.issuer, audience: [TEST_RESOURCE], expiresAt: now - 100 });

    const [header, , signature] = expired.split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ client_id: 'forged', sub: 'forged', exp: now + 600 })).toString('base64url');
    const forged = await verifierFor().verifyAccessToken(`${header}.${forgedPayload}.${signature}`).catch((err: unknown) => err);
    assert.ok(forged instanceof InvalidAccessTokenError);
    assert.equal(forged.reason, 'signature');
    assert.equal(forged.claims, undefined);
  });

  test('accepts a token in its one spelling: no other last signature character, no padding', async () => {
    const verifier = verifierFor();
    const token = await issuer.mint();
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(token.at(-1)!);
    // A 256-byte RS256 signature is 342 characters: the last one's 4 low bits are unused.
    const sameBytes = [...alphabet].filter((_, i) => i !== last && i >> 4 === last >> 4).map((c) => `${token.slice(0, -1)}${c}`);
    assert.equal(sameBytes.length, 15);
    for (const variant of [...sameBytes, `${token}==`, `${token}=`]) {
      await assert.rejects(verifier.verifyAccessToken(variant), { name: 'InvalidAccessTokenError', reason: 'malformed' }, variant.slice(-4));
    }
    assert.equal((await verifier.verifyAccessToken(token)).token, token);
  });

  test('refuses an oversized token before decoding it, without fetching keys', async () => {
    const fresh = await startTestIssuer();
    try {
      const verifier = createAccessTokenVerifier({ issuer: fresh.issuer, resource: TEST_RESOURCE, jwksUri: fresh.jwksUri, maxTokenLength: 2048 });
      const token = await fresh.mint({ header: { kid: 'unknown' }, claims: { padding: 'x'.repeat(2048) } });
      await assert.rejects(verifier.verifyAccessToken(token), { name: 'InvalidAccessTokenError', reason: 'too_large', message: 'the access token is too large' });
      assert.deepEqual(fresh.requests, []);
    } finally {
      await fresh.close();
    }
  });

  test('accepts a token signed with a rotated-in key after one JWKS refetch', async () => {
    const rotating = await startTestIssuer();
    try {
      const verifier = createAccessTokenVerifier({ issuer: rotating.issuer, resource: TEST_RESOURCE, jwksUri: rotating.jwksUri, jwksCooldown: 0 });
      await verifier.verifyAccessToken(await rotating.mint());
      assert.equal(rotating.requests.length, 1);
      await rotating.rotateKey();
      await verifier.verifyAccessToken(await rotating.mint());
      assert.equal(rotating.requests.length, 2);
    } finally {
      await rotating.close();
    }
  });

  test('refetches the JWKS for unknown kids at most once per cooldown', async () => {
    const fresh = await startTestIssuer();
    try {
      const verifier = createAccessTokenVerifier({ issuer: fresh.issuer, resource: TEST_RESOURCE, jwksUri: fresh.jwksUri, jwksCooldown: 60_000 });
      await verifier.verifyAccessToken(await fresh.mint());
      for (const kid of ['unknown-1', 'unknown-2', 'unknown-3']) {
        await assert.rejects(verifier.verifyAccessToken(await fresh.mint({ header: { kid } })), (err) => err instanceof InvalidAccessTokenError && err.reason === 'unknown_key');
      }
      assert.equal(fresh.requests.length, 1, 'no refetch within the cooldown');
    } finally {
      await fresh.close();
    }
  });

  test('reports an unreachable JWKS as KeySetUnavailableError, not as a bad token', async () => {
    const { url, server } = await listen(() => undefined);
    await stop(server);
    const verifier = createAccessTokenVerifier({ issuer: issuer.issuer, resource: TEST_RESOURCE, jwksUri: `${url}/oauth/jwks` });
    await assert.rejects(verifier.verifyAccessToken(await issuer.mint()), KeySetUnavailableError);
  });

  for (const [answer, fail] of [
    ['answers 503', (res: ServerResponse) => void res.writeHead(503).end()],
    ['answers 200 with a page that is no key set', (res: ServerResponse) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>')],
  ] as const) test(`while the JWKS ${answer}, made-up kids cost one fetch per hold and one warn, and cached keys still verify`, async () => {
    let fetches = 0;
    let failing = false;
    const { url, server } = await listen((_req, res) => {
      fetches++;
      if (failing) return fail(res);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [issuer.publicJwk] }));
    });
    const logged: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'info' }, new Writable({ write(chunk, _encoding, done) { logged.push(JSON.parse(String(chunk))); done(); } }));
    const clock = new TestClock();
    try {
      // No cooldown: each unknown kid may refetch, so only the failure's hold keeps fetches down.
      const verifier = createAccessTokenVerifier({ issuer: issuer.issuer, resource: TEST_RESOURCE, jwksUri: `${url}/oauth/jwks`, jwksCooldown: 0, clock, logger });
      await verifier.verifyAccessToken(await issuer.mint());
      assert.equal(fetches, 1);
      failing = true;
      for (let i = 0; i < 50; i++) {
        await assert.rejects(verifier.verifyAccessToken(await issuer.mint({ header: { kid: `made-up-${i}` } })), KeySetUnavailableError);
      }
      assert.equal(fetches, 2, 'one fetch for 50 made-up kids while the failure stands');
      await verifier.verifyAccessToken(await issuer.mint());
      clock.advance(FAILED_FETCH_HOLD_MS / 1000);
      await assert.rejects(verifier.verifyAccessToken(await issuer.mint({ header: { kid: 'made-up-after-the-hold' } })), KeySetUnavailableError);
      assert.equal(fetches, 3, 'fetched again once the hold is over');
      failing = false;
      clock.advance(FAILED_FETCH_HOLD_MS / 1000);
      await assert.rejects(verifier.verifyAccessToken(await issuer.mint({ header: { kid: 'made-up-once-up' } })), (err) => err instanceof InvalidAccessTokenError && err.reason === 'unknown_key');
      assert.deepEqual(logged.map(({ level, msg }) => [level, msg]), [
        [40, 'cannot fetch the issuer key set: tokens signed with a key not cached here are answered 503 until it can, and every new token once the cached set is an hour old'],
        [30, 'issuer key set fetched again'],
      ]);
    } finally {
      await stop(server);
    }
  });

  test('while the JWKS answers 503, a cached key keeps verifying until the set is JWKS_MAX_STALENESS_MS old, and stops once a fetched set drops it', async () => {
    const { publicKey } = await generateKeyPair('RS256');
    const rotatedIn = { ...(await exportJWK(publicKey)), kid: 'rotated-in', alg: 'RS256', use: 'sig' };
    let published: JWK[] | undefined = [issuer.publicJwk];
    let fetches = 0;
    const { url, server } = await listen((_req, res) => {
      fetches++;
      if (!published) return void res.writeHead(503).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }));
    });
    const clock = new TestClock();
    // Minted on the test clock, so that moving it an hour on leaves them unexpired.
    const mint = (header = {}) => issuer.mint({ claims: { iat: clock.epochSeconds(), exp: clock.epochSeconds() + 600 }, header });
    try {
      // No token cache: every call below asks for the key. No cooldown: a made-up kid may refetch.
      const verifier = createAccessTokenVerifier({ issuer: issuer.issuer, resource: TEST_RESOURCE, jwksUri: `${url}/oauth/jwks`, cacheSize: 0, jwksCooldown: 0, clock });
      await verifier.verifyAccessToken(await mint());
      published = undefined;
      clock.advance(JWKS_MAX_AGE_MS / 1000);
      await verifier.verifyAccessToken(await mint());
      assert.equal(fetches, 2, 'the set was due and fetched again');
      await assert.rejects(verifier.verifyAccessToken(await mint({ kid: 'made-up' })), KeySetUnavailableError);
      clock.advance((JWKS_MAX_STALENESS_MS - JWKS_MAX_AGE_MS) / 1000 - 1);
      await verifier.verifyAccessToken(await mint());
      clock.advance(1);
      await assert.rejects(verifier.verifyAccessToken(await mint()), KeySetUnavailableError, 'fails closed once the set is too old');
      published = [rotatedIn];
      clock.advance(FAILED_FETCH_HOLD_MS / 1000);
      await assert.rejects(verifier.verifyAccessToken(await mint()), (err) => err instanceof InvalidAccessTokenError && err.reason === 'unknown_key');
    } finally {
      await stop(server);
    }
  });

  test('reports a JWKS longer than its cap as KeySetUnavailableError, without reading it all', async () => {
    // A valid key set padded with whitespace: only its length is wrong. No Content-Length, so
    // the cap is met while streaming.
    const padded = (bytes: number) => `{"keys":[${JSON.stringify(issuer.publicJwk)}]${' '.repeat(bytes)}}`;
    let body = padded(MAX_JWKS_BYTES);
    const { url, server } = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(body);
      res.end();
    });
    const clock = new TestClock();
    try {
      const verifier = createAccessTokenVerifier({ issuer: issuer.issuer, resource: TEST_RESOURCE, jwksUri: `${url}/oauth/jwks`, clock });
      const refusal = await verifier.verifyAccessToken(await issuer.mint()).catch((err: unknown) => err);
      assert.ok(refusal instanceof KeySetUnavailableError, String(refusal));
      assert.match((refusal.cause as Error).message, /longer than 262144 bytes/);
      body = padded(MAX_JWKS_BYTES - 1024);
      clock.advance(FAILED_FETCH_HOLD_MS / 1000);
      await verifier.verifyAccessToken(await issuer.mint());
    } finally {
      await stop(server);
    }
  });

  test('gives up on a JWKS that does not answer within the timeout', async () => {
    const { url, server } = await listen(() => undefined);
    try {
      const verifier = createAccessTokenVerifier({ issuer: issuer.issuer, resource: TEST_RESOURCE, jwksUri: `${url}/oauth/jwks`, jwksTimeout: 200 });
      const started = Date.now();
      await assert.rejects(verifier.verifyAccessToken(await issuer.mint()), KeySetUnavailableError);
      assert.ok(Date.now() - started < 2000, 'bounded by the timeout');
    } finally {
      await stop(server);
    }
  });

  test('answers 503 without a challenge when the JWKS cannot be fetched', async () => {
    const { url, server } = await listen((_req, res) => res.writeHead(500).end());
    const resourceServer = await startResourceServer({ issuer: issuer.issuer, config: { jwksUri: `${url}/oauth/jwks` } });
    try {
      const response = await mcpRequest(resourceServer.mcpUrl, { token: await issuer.mint() });
      assert.equal(response.status, 503);
      assert.equal(response.headers.get('www-authenticate'), null);
      assert.equal(response.headers.get('retry-after'), '5');
      assert.equal((await response.json()).error, 'temporarily_unavailable');
    } finally {
      await resourceServer.close();
      await stop(server);
    }
  });
});

describe('TokenCache', () => {
  const entry = (expiresAt: number) => ({ expiresAt });

  test('drops the least recently used entry beyond its size', () => {
    const cache = new TokenCache<{ expiresAt: number }>(2);
    cache.set('a', entry(100));
    cache.set('b', entry(100));
    cache.get('a', 0);
    cache.set('c', entry(100));
    assert.ok(cache.get('a', 0));
    assert.equal(cache.get('b', 0), undefined);
    assert.ok(cache.get('c', 0));
    assert.equal(cache.size, 2);
  });

  test('forgets an entry at its expiry', () => {
    const cache = new TokenCache<{ expiresAt: number }>(10);
    cache.set('a', entry(100));
    assert.ok(cache.get('a', 99));
    assert.equal(cache.get('a', 100), undefined);
    assert.equal(cache.size, 0);
  });

  test('stores nothing when its size is 0', () => {
    const cache = new TokenCache<{ expiresAt: number }>(0);
    cache.set('a', entry(100));
    assert.equal(cache.get('a', 0), undefined);
  });
});
