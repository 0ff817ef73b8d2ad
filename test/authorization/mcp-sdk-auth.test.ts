import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { TestOAuthClientProvider } from '../helpers/mcp-oauth-client.ts';
import { startMetadataServer } from '../helpers/net.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

describe('the official MCP SDK client auth() against the auth-server', () => {
  let metadata: { server: Server; resource: string };
  let server: TestAuthServer;
  before(async () => {
    let issuer = '';
    metadata = await startMetadataServer(() => issuer);
    server = await startAuthServer({ env: { RESOURCE_URL: metadata.resource } });
    issuer = server.issuer;
  });
  after(async () => {
    await server.close();
    metadata.server.close();
  });

  test('discovers, registers, authorizes with PKCE and the resource, and gets an audience-bound token', async () => {
    const provider = new TestOAuthClientProvider('http://127.0.0.1:51234/callback');
    const first = await auth(provider, { serverUrl: metadata.resource, scope: 'mcp:read mcp:write' });
    assert.equal(first, 'REDIRECT');
    assert.ok(provider.client?.client_id, 'the SDK registered by DCR');
    const authorizationUrl = provider.authorizationUrls.at(-1)!;
    assert.equal(authorizationUrl.searchParams.get('resource'), metadata.resource);
    assert.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256');

    const callback = await provider.signInAt(server.issuer, 'admin', ADMIN_PASSWORD);
    assert.equal(callback.searchParams.get('iss'), server.issuer);
    const second = await auth(provider, { serverUrl: metadata.resource, authorizationCode: callback.searchParams.get('code')! });
    assert.equal(second, 'AUTHORIZED');

    const tokens = provider.savedTokens!;
    assert.ok(tokens.refresh_token);
    const jwks = createRemoteJWKSet(new URL(`${server.issuer}/oauth/jwks`));
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: server.issuer, audience: metadata.resource, typ: 'at+jwt' });
    assert.equal(payload.scope, 'mcp:read mcp:write');

    // With a refresh token stored, auth() refreshes instead of redirecting.
    const third = await auth(provider, { serverUrl: metadata.resource });
    assert.equal(third, 'AUTHORIZED');
    assert.notEqual(provider.savedTokens!.refresh_token, tokens.refresh_token, 'the refresh token rotated');
  });
});
