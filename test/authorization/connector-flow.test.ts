import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { CLAUDE_DCR_BODY, connect, redeem, refresh, registerClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const RESOURCE = 'http://localhost:4001/mcp';

describe("Claude's connector flow against the real auth-server", () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer();
  });
  after(() => server.close());

  test('DCR → authorize → sign in → consent → code → token → refresh → rotation → reuse kills the grant', async () => {
    const { issuer } = server;
    const client = await registerClient(issuer, CLAUDE_DCR_BODY);
    assert.equal(client.token_endpoint_auth_method, 'none');
    assert.equal(client.client_secret, undefined, 'a public client gets no secret');

    const result = await connect(issuer, {
      clientId: client.client_id,
      scope: 'mcp:read mcp:write',
      resource: RESOURCE,
      state: 'xyz-state',
      username: 'admin',
      password: ADMIN_PASSWORD,
    });
    assert.equal(result.callback.origin + result.callback.pathname, CLAUDE_DCR_BODY.redirect_uris[0]);
    assert.equal(result.callback.searchParams.get('state'), 'xyz-state');
    assert.equal(result.callback.searchParams.get('iss'), issuer, 'RFC 9207 iss on the authorization response');

    const tokens = await redeem(issuer, client, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(tokens.body.token_type, 'Bearer');
    assert.equal(typeof tokens.body.refresh_token, 'string', 'refresh token issued without offline_access');
    const accessToken = tokens.body.access_token as string;

    const header = decodeProtectedHeader(accessToken);
    assert.equal(header.alg, 'RS256');
    assert.equal(header.typ, 'at+jwt');
    const jwks = createRemoteJWKSet(new URL(`${issuer}/oauth/jwks`));
    const { payload } = await jwtVerify(accessToken, jwks, { issuer, audience: RESOURCE, typ: 'at+jwt', algorithms: ['RS256'] });
    assert.equal(payload.client_id, client.client_id);
    assert.equal(payload.scope, 'mcp:read mcp:write');
    assert.equal(payload.preferred_username, 'admin');
    const admin = (await server.auth.users.findByUsername('admin'))!;
    assert.equal(payload.sub, admin.id);
    for (const claim of ['iat', 'exp', 'jti']) assert.ok(payload[claim], `claim ${claim}`);
    assert.equal(payload.exp! - payload.iat!, 3600);

    const first = await refresh(issuer, client, tokens.body.refresh_token as string);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.notEqual(first.body.refresh_token, tokens.body.refresh_token, 'refresh token rotates');
    const refreshed = await jwtVerify(first.body.access_token as string, jwks, { issuer, audience: RESOURCE, typ: 'at+jwt' });
    assert.equal(refreshed.payload.scope, 'mcp:read mcp:write');

    const reuse = await refresh(issuer, client, tokens.body.refresh_token as string);
    assert.equal(reuse.status, 400);
    assert.equal(reuse.body.error, 'invalid_grant');

    const afterReuse = await refresh(issuer, client, first.body.refresh_token as string);
    assert.equal(afterReuse.status, 400, 'reusing a rotated refresh token revokes the whole grant');
    assert.equal(afterReuse.body.error, 'invalid_grant');
  });
});
