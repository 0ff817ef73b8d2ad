import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { pino } from 'pino';
import { createAuthServer } from '../../apps/auth-server/src/create-auth-server.ts';
import { readSigningKeys, rotateSigningKeys } from '../../apps/auth-server/src/keys/signing-keys.ts';
import { connect, redeem, registerClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const RESOURCE = 'http://localhost:4001/mcp';

describe('authorization server metadata', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer();
  });
  after(() => server.close());

  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    test(`${path} advertises exactly what Gatehouse offers`, async () => {
      const response = await fetch(`${server.issuer}${path}`, { headers: { origin: 'http://localhost:6274' } });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('access-control-allow-origin'), 'http://localhost:6274', 'metadata is CORS-readable');
      const metadata = await response.json() as Record<string, unknown>;
      assert.equal(metadata.issuer, server.issuer, 'issuer byte for byte');
      assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
      assert.deepEqual(metadata.response_types_supported, ['code']);
      // RFC 8693 token exchange is for the resource server only, but oidc-provider lists every registered grant.
      // client_credentials: service accounts only (MCP oauth-client-credentials extension).
      assert.deepEqual([...(metadata.grant_types_supported as string[])].sort(), ['authorization_code', 'client_credentials', 'refresh_token', 'urn:ietf:params:oauth:grant-type:token-exchange']);
      assert.deepEqual([...(metadata.token_endpoint_auth_methods_supported as string[])].sort(), ['client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt']);
      assert.deepEqual(metadata.token_endpoint_auth_signing_alg_values_supported, ['RS256', 'ES256'], 'private_key_jwt: asymmetric only');
      assert.equal(metadata.authorization_response_iss_parameter_supported, true);
      for (const scope of ['mcp:read', 'mcp:write', 'mcp:admin', 'openid', 'profile', 'email', 'offline_access']) {
        assert.ok((metadata.scopes_supported as string[]).includes(scope), scope);
      }
      const endpoints = {
        authorization_endpoint: '/oauth/authorize',
        token_endpoint: '/oauth/token',
        registration_endpoint: '/oauth/register',
        jwks_uri: '/oauth/jwks',
        revocation_endpoint: '/oauth/revoke',
        introspection_endpoint: '/oauth/introspect',
      };
      for (const [field, suffix] of Object.entries(endpoints)) assert.equal(metadata[field], `${server.issuer}${suffix}`, field);
      // Switched off: nothing advertised that Gatehouse does not offer.
      // userinfo would refuse every (resource-bound JWT) access token this server issues.
      for (const absent of ['userinfo_endpoint', 'userinfo_signing_alg_values_supported', 'end_session_endpoint', 'pushed_authorization_request_endpoint', 'dpop_signing_alg_values_supported', 'device_authorization_endpoint']) {
        assert.equal(metadata[absent], undefined, absent);
      }
    });
  }

  test('/oauth/jwks publishes only public RSA parts', async () => {
    const response = await fetch(`${server.issuer}/oauth/jwks`, { headers: { origin: 'https://any.example' } });
    assert.equal(response.headers.get('access-control-allow-origin'), 'https://any.example');
    const { keys } = await response.json() as { keys: Record<string, unknown>[] };
    assert.equal(keys.length, 2, 'the active key and the next key');
    for (const key of keys) {
      assert.equal(key.kty, 'RSA');
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(key[secret], undefined, `private member ${secret} published`);
    }
  });

  test('/healthz answers', async () => {
    const response = await fetch(`${server.issuer}/healthz`);
    assert.equal(response.status, 200);
  });
});

describe('signing keys', () => {
  test('are created once with mode 0600 and one log line saying so, then reused', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
    const server = await startAuthServer({ logger: pino({ level: 'info' }, sink) });
    try {
      // A first start: at info (test/keys/new-signing-keys-log.test.ts has the warning's cases).
      assert.equal(lines.filter((l) => l.includes('signing key')).length, 1, 'one line when the key is created');
      lines.length = 0;
      const file = join(server.config.authServer.keysDir, 'signing-keys.json');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const kid = readSigningKeys(server.config.authServer.keysDir)[0]!.jwk.kid;

      const again = await createAuthServer(server.config.authServer, pino({ level: 'info' }, sink));
      await again.close();
      assert.equal(lines.filter((l) => l.includes('signing key')).length, 0, 'no line when the key exists');
      assert.equal(readSigningKeys(server.config.authServer.keysDir)[0]!.jwk.kid, kid, 'the same key is reused');
    } finally {
      await server.close();
    }
  });

  test('rotation: the next key (published beforehand) signs, the old one stays published and its tokens still verify', async () => {
    const server = await startAuthServer();
    try {
      const client = await registerClient(server.issuer);
      const login = { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD };
      const before = await redeem(server.issuer, client, await connect(server.issuer, login));
      const oldKid = decodeProtectedHeader(before.body.access_token as string).kid;
      const publishedBefore = await (await fetch(`${server.issuer}/oauth/jwks`)).json() as { keys: { kid: string }[] };

      const keys = await rotateSigningKeys(server.config.authServer.keysDir);
      assert.deepEqual(keys.map((k) => k.status), ['active', 'next', 'retiring']);
      await server.restart();

      const after = await redeem(server.issuer, client, await connect(server.issuer, login));
      const newKid = decodeProtectedHeader(after.body.access_token as string).kid;
      assert.notEqual(newKid, oldKid, 'the promoted key signs');
      assert.equal(newKid, keys[0]!.jwk.kid);
      assert.ok(publishedBefore.keys.some((k) => k.kid === newKid), 'the key that signs now was published before the rotation');

      const published = await (await fetch(`${server.issuer}/oauth/jwks`)).json() as { keys: { kid: string }[] };
      assert.deepEqual(published.keys.map((k) => k.kid).sort(), [oldKid, newKid, keys[1]!.jwk.kid].sort());
      const jwks = createRemoteJWKSet(new URL(`${server.issuer}/oauth/jwks`));
      for (const token of [before.body.access_token, after.body.access_token]) {
        await jwtVerify(token as string, jwks, { issuer: server.issuer, audience: RESOURCE, typ: 'at+jwt' });
      }
    } finally {
      await server.close();
    }
  });
});
