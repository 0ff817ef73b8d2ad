import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { CLAUDE_DCR_BODY, connect, redeem, refresh, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';

const RESOURCE = 'http://localhost:4001/mcp';

async function post(issuer: string, path: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(`${issuer}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) as Record<string, unknown> : {} };
}

async function signedInTokens(server: TestAuthServer, client: RegisteredClient, extra: Record<string, string> = {}) {
  const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
  const tokens = await redeem(server.issuer, client, result, extra);
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  return tokens.body as { access_token: string; refresh_token: string };
}

for (const backend of TEST_BACKENDS) describe(`refresh tokens, revocation and introspection (${backend})`, () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer({ backend });
  });
  after(() => server.close());

  test('no refresh token for a client not registered for the refresh_token grant', async () => {
    const client = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, grant_types: ['authorization_code'] });
    const tokens = await signedInTokens(server, client);
    assert.equal(tokens.refresh_token, undefined);
  });

  test('a public client revokes its own refresh token, which then stops working', async () => {
    const client = await registerClient(server.issuer);
    const tokens = await signedInTokens(server, client);
    const revoked = await post(server.issuer, '/oauth/revoke', { token: tokens.refresh_token, client_id: client.client_id });
    assert.equal(revoked.status, 200);
    const after = await refresh(server.issuer, client, tokens.refresh_token);
    assert.equal(after.status, 400);
    assert.equal(after.body.error, 'invalid_grant');
  });

  test("a public client cannot revoke another client's refresh token", async () => {
    const owner = await registerClient(server.issuer);
    const other = await registerClient(server.issuer);
    const tokens = await signedInTokens(server, owner);
    const attempt = await post(server.issuer, '/oauth/revoke', { token: tokens.refresh_token, client_id: other.client_id });
    assert.notEqual(attempt.status, 500);
    const stillWorks = await refresh(server.issuer, owner, tokens.refresh_token);
    assert.equal(stillWorks.status, 200, 'the owner keeps its refresh token');
  });

  test("a confidential client is told it may not revoke another client's refresh token (RFC 7009 §2.1), which keeps working", async () => {
    const owner = await registerClient(server.issuer);
    const other = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_post' });
    const tokens = await signedInTokens(server, owner);
    const attempt = await post(server.issuer, '/oauth/revoke', { token: tokens.refresh_token, client_id: other.client_id, client_secret: other.client_secret! });
    assert.equal(attempt.status, 400);
    assert.equal(attempt.body.error, 'invalid_request');
    const stillWorks = await refresh(server.issuer, owner, tokens.refresh_token);
    assert.equal(stillWorks.status, 200, 'the owner keeps its refresh token');
  });

  test('introspection shows a refresh token to its own client only, and needs client authentication', async () => {
    const owner = await registerClient(server.issuer);
    const other = await registerClient(server.issuer);
    const tokens = await signedInTokens(server, owner);

    const own = await post(server.issuer, '/oauth/introspect', { token: tokens.refresh_token, client_id: owner.client_id });
    assert.equal(own.status, 200);
    assert.equal(own.body.active, true);
    assert.equal(own.body.client_id, owner.client_id);
    assert.equal(own.body.sub, server.auth.users.findByUsername('admin')!.id);

    const foreign = await post(server.issuer, '/oauth/introspect', { token: tokens.refresh_token, client_id: other.client_id });
    assert.equal(foreign.status, 200);
    assert.equal(foreign.body.active, false);

    const anonymous = await post(server.issuer, '/oauth/introspect', { token: tokens.refresh_token });
    assert.equal(anonymous.status, 400);
    assert.equal(anonymous.body.error, 'invalid_request');
  });

  test('a confidential client must authenticate to revoke and introspect', async () => {
    const client = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_post' });
    assert.ok(client.client_secret);
    const tokens = await signedInTokens(server, client, { client_secret: client.client_secret! });
    const wrong = await post(server.issuer, '/oauth/introspect', { token: tokens.refresh_token, client_id: client.client_id, client_secret: 'wrong' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'invalid_client');
    const right = await post(server.issuer, '/oauth/introspect', { token: tokens.refresh_token, client_id: client.client_id, client_secret: client.client_secret! });
    assert.equal(right.body.active, true);
    const revoke = await post(server.issuer, '/oauth/revoke', { token: tokens.refresh_token, client_id: client.client_id, client_secret: client.client_secret! });
    assert.equal(revoke.status, 200);
    const gone = await post(server.issuer, '/oauth/introspect', { token: tokens.refresh_token, client_id: client.client_id, client_secret: client.client_secret! });
    assert.equal(gone.body.active, false);
  });

  test('refresh tokens are not tied to the browser session', async () => {
    const client = await registerClient(server.issuer);
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    const tokens = await redeem(server.issuer, client, result);
    // Ending every browser session must not end the client's refresh token.
    await server.auth.database.run("DELETE FROM oidc_models WHERE model = 'Session'");
    const refreshed = await refresh(server.issuer, client, tokens.body.refresh_token as string);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  });

  test('each refresh token lives refresh_token_lifetime', async () => {
    const client = await registerClient(server.issuer);
    const tokens = await signedInTokens(server, client);
    const introspected = await post(server.issuer, '/oauth/introspect', { token: tokens.refresh_token, client_id: client.client_id });
    const { iat, exp } = introspected.body as { iat: number; exp: number };
    assert.equal(exp - iat, server.config.authServer.refreshTokenTtl);
  });
});

for (const backend of TEST_BACKENDS) describe(`the absolute refresh token lifetime (${backend})`, () => {
  test('rotation never extends a refresh token past the cap counted from sign-in', async () => {
    const clock = new TestClock();
    const server = await startAuthServer({
      backend,
      clock,
      configure(config) {
        config.authServer.refreshTokenTtl = 100;
        config.authServer.refreshTokenAbsoluteTtl = 100;
      },
    });
    try {
      const client = await registerClient(server.issuer);
      const tokens = await signedInTokens(server, client);
      const first = await post(server.issuer, '/oauth/introspect', { token: tokens.refresh_token, client_id: client.client_id });
      // 30 s after sign-in on our clock, which the cap counts the time left on (create-provider.ts).
      clock.set(((first.body.iat as number) + 30) * 1000);
      const refreshed = await refresh(server.issuer, client, tokens.refresh_token);
      assert.equal(refreshed.status, 200);
      const second = await post(server.issuer, '/oauth/introspect', { token: refreshed.body.refresh_token as string, client_id: client.client_id });
      const signedInAt = first.body.iat as number;
      assert.ok((second.body.exp as number) <= signedInAt + 100, `exp ${String(second.body.exp)} is past sign-in + 100 (${signedInAt + 100})`);
      assert.ok((second.body.exp as number) < (second.body.iat as number) + 100, 'shorter than a fresh lifetime');
    } finally {
      await server.close();
    }
  });
});

for (const backend of TEST_BACKENDS) describe(`state survives a restart (${backend})`, () => {
  test('a registered client and its refresh token work after the server restarts', async () => {
    const server = await startAuthServer({ backend });
    try {
      const client = await registerClient(server.issuer);
      const tokens = await signedInTokens(server, client);
      const jwksBefore = await (await fetch(`${server.issuer}/oauth/jwks`)).json();

      await server.restart();

      const refreshed = await refresh(server.issuer, client, tokens.refresh_token);
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      const jwksAfter = await (await fetch(`${server.issuer}/oauth/jwks`)).json();
      assert.deepEqual(jwksAfter, jwksBefore, 'the same signing key is reused');
      const jwks = createRemoteJWKSet(new URL(`${server.issuer}/oauth/jwks`));
      await jwtVerify(tokens.access_token, jwks, { issuer: server.issuer, audience: RESOURCE });

      const again = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
      assert.ok(again.code, 'the client registered before the restart can still authorize');
    } finally {
      await server.close();
    }
  });
});

describe("a user's grantable scopes cap every token", () => {
  test('a scope taken from the user is gone from the next refresh and from a code redeemed afterwards', async () => {
    const server = await startAuthServer();
    try {
      const writer = server.auth.users.create({ username: 'writer', passwordHash: await server.auth.hasher.hash('writer-password'), scopes: ['mcp:read', 'mcp:write'] });
      const client = await registerClient(server.issuer);
      const login = { clientId: client.client_id, scope: 'mcp:read mcp:write', resource: RESOURCE, username: 'writer', password: 'writer-password' };
      const tokens = await redeem(server.issuer, client, await connect(server.issuer, login));
      assert.equal(decodeJwt(tokens.body.access_token as string).scope, 'mcp:read mcp:write');

      const pendingCode = await connect(server.issuer, login);
      server.auth.users.update(writer.id, { scopes: ['mcp:read'] });

      const refreshed = await refresh(server.issuer, client, tokens.body.refresh_token as string);
      assert.equal(refreshed.status, 200);
      assert.equal(decodeJwt(refreshed.body.access_token as string).scope, 'mcp:read');
      const redeemed = await redeem(server.issuer, client, pendingCode);
      assert.equal(decodeJwt(redeemed.body.access_token as string).scope, 'mcp:read');
    } finally {
      await server.close();
    }
  });
});
