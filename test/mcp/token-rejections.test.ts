/**
 * Every way a token must be refused at the MCP endpoint, each with a real forged or mis-issued
 * token, sent over HTTP to a real resource-server that trusts a real (test) issuer's JWKS.
 * Each must get 401 with `error="invalid_token"` and be counted under its reason code; the valid
 * controls must get through, so the table cannot pass by refusing everything.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { base64url, exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createMetricsRegistry } from '../../apps/shared/metrics.ts';
import type { InvalidAccessTokenReason } from '../../apps/resource-server/src/auth/verify-access-token.ts';
import { startTestIssuer, TEST_RESOURCE, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { mcpRequest, parseChallenge } from '../helpers/mcp-http.ts';

/** A server an attacker controls: serves the attacker's JWKS and records every hit. */
interface Attacker {
  url: string;
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  hits: string[];
  close(): Promise<void>;
}

async function startAttacker(): Promise<Attacker> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = 'attacker-key';
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ keys: [publicJwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    kid, privateKey, publicJwk, hits,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function unsigned(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const encode = (value: unknown) => base64url.encode(JSON.stringify(value));
  return `${encode(header)}.${encode(payload)}.`;
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(base64url.decode(token.split('.')[1]!)));
}

describe('tokens the MCP endpoint refuses', () => {
  let issuer: TestIssuer;
  let attacker: Attacker;
  let server: RunningResourceServer;
  const registry = createMetricsRegistry('resource-server');
  const refusals = async (reason: string) => (await registry.getSingleMetric('gatehouse_token_verification_failures_total')?.get())
    ?.values.find((v) => v.labels.reason === reason)?.value ?? 0;

  before(async () => {
    issuer = await startTestIssuer();
    attacker = await startAttacker();
    server = await startResourceServer({ issuer: issuer.issuer, registry });
  });
  after(async () => {
    await server?.close();
    await attacker?.close();
    await issuer?.close();
  });

  const now = () => Math.floor(Date.now() / 1000);

  const accepted: Array<[string, () => Promise<string>]> = [
    ['a token as the auth-server issues it', () => issuer.mint()],
    ['a token with typ application/at+jwt (RFC 9068 §4)', () => issuer.mint({ header: { typ: 'application/at+jwt' } })],
    ['a token whose aud is the resource with a trailing slash', () => issuer.mint({ claims: { aud: `${TEST_RESOURCE}/` } })],
    ['a token whose aud lists this resource among others', () => issuer.mint({ claims: { aud: ['https://other.example/api', TEST_RESOURCE] } })],
    ['a token without preferred_username', () => issuer.mint({ claims: { preferred_username: undefined } })],
    ['a token that expired 2 seconds ago (within the clock leeway)', () => issuer.mint({ claims: { exp: now() - 2 } })],
    ['a token living exactly the configured lifetime', () => issuer.mint({ claims: { iat: now(), exp: now() + 3600 } })],
    ['a service account token, its sub its client_id', () => issuer.mint({ claims: { gatehouse_service: 'Nightly job', sub: 'svc-nightly', client_id: 'svc-nightly' } })],
  ];

  for (const [name, mint] of accepted) {
    test(`accepts ${name}`, async () => {
      const response = await mcpRequest(server.mcpUrl, { token: await mint() });
      assert.equal(response.status, 200, await response.text());
    });
  }

  // [what is sent, a phrase the refusal must give as its description, its reason code (the metric label), how to make it]
  const refused: Array<[string, string, InvalidAccessTokenReason, () => Promise<string>]> = [
    ...['none', 'None', 'NONE', 'nOnE'].map((alg): [string, string, InvalidAccessTokenReason, () => Promise<string>] => [
      `an unsigned token with alg ${alg}`, 'signed with RS256', 'algorithm',
      async () => unsigned({ alg, typ: 'at+jwt', kid: issuer.kid }, claimsOf(await issuer.mint())),
    ]),
    ['an HS256 token keyed with the issuer public JWK', 'signed with RS256', 'algorithm', async () => new SignJWT(claimsOf(await issuer.mint()))
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: issuer.kid })
      .sign(new TextEncoder().encode(JSON.stringify(issuer.publicJwk)))],
    ['an HS256 token keyed with the issuer public key PEM', 'signed with RS256', 'algorithm', async () => new SignJWT(claimsOf(await issuer.mint()))
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: issuer.kid })
      .sign(new TextEncoder().encode(await exportSPKI(await importJWK(issuer.publicJwk, 'RS256') as CryptoKey)))],
    ['a PS256 token signed with the issuer own key', 'signed with RS256', 'algorithm', async () => issuer.mint({
      header: { alg: 'PS256' }, key: await importJWK({ ...(await exportJWK(issuer.privateKey)), alg: 'PS256' }, 'PS256') as CryptoKey,
    })],
    ['a token with a jku header pointing at an attacker JWKS', 'jku', 'forbidden_header', () => issuer.mint({
      header: { kid: attacker.kid, jku: `${attacker.url}/jku-jwks` }, key: attacker.privateKey,
    })],
    ['a token with an x5u header pointing at an attacker', 'x5u', 'forbidden_header', () => issuer.mint({
      header: { kid: attacker.kid, x5u: `${attacker.url}/x5u-cert` }, key: attacker.privateKey,
    })],
    ['a token carrying its own signing key in a jwk header', 'jwk', 'forbidden_header', () => issuer.mint({
      header: { kid: attacker.kid, jwk: { kty: attacker.publicJwk.kty, n: attacker.publicJwk.n, e: attacker.publicJwk.e } }, key: attacker.privateKey,
    })],
    ['a token carrying a certificate chain in an x5c header', 'x5c', 'forbidden_header', () => issuer.mint({
      header: { x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'] },
    })],
    ['a token signed by another key under the issuer kid', 'signature', 'signature', () => issuer.mint({ key: attacker.privateKey })],
    ['a token signed by a key the issuer does not publish', 'does not publish', 'unknown_key', () => issuer.mint({ header: { kid: 'unknown-kid' }, key: attacker.privateKey })],
    // jose would take the JWKS's only key; retiring it by kid would then not stop the token.
    ['a token without kid, signed with the issuer key', 'names no signing key', 'unknown_key', () => issuer.mint({ header: { kid: undefined } })],
    ['a token with an empty kid, signed with the issuer key', 'names no signing key', 'unknown_key', () => issuer.mint({ header: { kid: '' } })],
    ['a token whose payload was changed after signing', 'signature', 'signature', async () => {
      const [header, , signature] = (await issuer.mint({ claims: { scope: 'mcp:read' } })).split('.');
      const forged = { ...claimsOf(await issuer.mint()), scope: 'mcp:read mcp:write mcp:admin' };
      return `${header}.${base64url.encode(JSON.stringify(forged))}.${signature}`;
    }],
    ['an ID token (typ JWT, aud the client, no client_id or scope)', 'not an access token', 'not_access_token', () => issuer.mint({
      header: { typ: 'JWT' }, claims: { aud: 'test-client', client_id: undefined, scope: undefined, nonce: 'n', auth_time: now() },
    })],
    ['an access-token-shaped JWT with typ JWT', 'not an access token', 'not_access_token', () => issuer.mint({ header: { typ: 'JWT' } })],
    ['a token without typ', 'not an access token', 'not_access_token', () => issuer.mint({ header: { typ: undefined } })],
    ['a token without client_id', 'no client_id claim', 'missing_claim', () => issuer.mint({ claims: { client_id: undefined } })],
    ['a token for another resource', 'another resource', 'audience', () => issuer.mint({ claims: { aud: 'http://localhost:4001/other' } })],
    ['a token for a resource that only starts like this one', 'another resource', 'audience', () => issuer.mint({ claims: { aud: `${TEST_RESOURCE}-evil` } })],
    ['a token for the same resource over https', 'another resource', 'audience', () => issuer.mint({ claims: { aud: TEST_RESOURCE.replace('http:', 'https:') } })],
    ['a token without aud', 'no aud claim', 'missing_claim', () => issuer.mint({ claims: { aud: undefined } })],
    ['a token from another issuer', 'another issuer', 'issuer', () => issuer.mint({ claims: { iss: 'https://evil.example' } })],
    ['a token whose iss has a trailing slash', 'another issuer', 'issuer', () => issuer.mint({ claims: { iss: `${issuer.issuer}/` } })],
    ['an expired token', 'expired', 'expired', () => issuer.mint({ claims: { iat: now() - 3600, exp: now() - 60 } })],
    ['a token that is not valid yet (nbf)', 'not valid yet', 'not_yet_valid', () => issuer.mint({ claims: { nbf: now() + 60 } })],
    ['a token without exp', 'no exp claim', 'missing_claim', () => issuer.mint({ claims: { exp: undefined } })],
    ['a token without sub', 'no sub claim', 'missing_claim', () => issuer.mint({ claims: { sub: undefined } })],
    ['a token with an empty sub', 'empty or not a string', 'invalid_claims', () => issuer.mint({ claims: { sub: '' } })],
    ['a token without scope', 'no scope claim', 'missing_claim', () => issuer.mint({ claims: { scope: undefined } })],
    ['a token whose scope is an array', 'empty or not a string', 'invalid_claims', () => issuer.mint({ claims: { scope: ['mcp:read'] } })],
    ['a token without jti', 'no jti claim', 'missing_claim', () => issuer.mint({ claims: { jti: undefined } })],
    ['a token without iat', 'no iat claim', 'missing_claim', () => issuer.mint({ claims: { iat: undefined } })],
    ['a token whose exp is not a number', 'exp claim is not valid', 'invalid_claims', () => issuer.mint({ claims: { exp: String(now() + 60) } })],
    ['a token issued in the future', 'iat is in the future', 'lifetime', () => issuer.mint({ claims: { iat: now() + 600, exp: now() + 1200 } })],
    ['a token living longer than the issuer grants (forged with a leaked key)', 'lifetime is longer', 'lifetime', () => issuer.mint({ claims: { iat: now(), exp: now() + 3600 + 60 } })],
    ['a token with a far-future exp', 'lifetime is longer', 'lifetime', () => issuer.mint({ claims: { iat: now() - 10, exp: 4_000_000_000 } })],
    ['a token whose gid is not a string', 'empty or not a string', 'invalid_claims', () => issuer.mint({ claims: { gid: { id: 'g' } } })],
    // A service account's token names the account itself: one naming a user would be served as the
    // account (no user identity upstream) while its subject is that user.
    ['a service account token whose sub is a user, not its client_id', 'its sub is not its client_id', 'invalid_claims', () => issuer.mint({ claims: { gatehouse_service: 'Nightly job', sub: randomUUID(), client_id: 'svc-nightly' } })],
    ['a service account token whose service name is empty', 'its sub is not its client_id', 'invalid_claims', () => issuer.mint({ claims: { gatehouse_service: '', sub: 'svc-nightly', client_id: 'svc-nightly' } })],
    ['a DPoP-bound token (cnf), which this server cannot check', 'sender-constrained', 'sender_constrained', () => issuer.mint({ claims: { cnf: { jkt: randomUUID() } } })],
    ['an oversized token', 'too large', 'too_large', () => issuer.mint({ claims: { padding: 'x'.repeat(9000) } })],
    ['a value that is not a JWT', 'malformed', 'malformed', async () => 'not-a-jwt'],
    ['a JWT with garbage segments', 'malformed', 'malformed', async () => 'abc.def.ghi'],
  ];

  for (const [name, description, reason, mint] of refused) {
    test(`refuses ${name} with 401 invalid_token, counted as ${reason}`, async () => {
      const before = await refusals(reason);
      const response = await mcpRequest(server.mcpUrl, { token: await mint() });
      assert.equal(response.status, 401);
      const challenge = parseChallenge(response.headers.get('www-authenticate'));
      assert.equal(challenge.scheme, 'Bearer');
      assert.equal(challenge.params.error, 'invalid_token');
      assert.match(challenge.params.error_description ?? '', new RegExp(description));
      assert.equal(await refusals(reason), before + 1);
      assert.equal(challenge.params.resource_metadata, 'http://localhost:4001/.well-known/oauth-protected-resource/mcp');
      // challenge_scopes: all (the default): every scope the built-in tools use.
      assert.equal(challenge.params.scope, 'mcp:read mcp:write mcp:admin');
    });
  }

  test('never fetches a key or certificate URL named by a token header', () => {
    assert.deepEqual(attacker.hits, []);
    assert.ok(issuer.requests.every((path) => path === '/oauth/jwks'), `issuer saw ${issuer.requests.join(', ')}`);
  });
});
