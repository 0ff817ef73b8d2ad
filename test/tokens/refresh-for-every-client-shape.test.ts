/**
 * Refresh tokens for every client shape, whether or not it asked for `offline_access` (issue 16,
 * point 10): MCP clients rarely do, and without a refresh token they send the user through sign-in
 * again every time the access token expires. Each shape registers (or names its CIMD document)
 * exactly as that client does, authorizes for `mcp:read` only, redeems the code with its own
 * client authentication, and refreshes twice (rotation). The issuing rule is in
 * apps/auth-server/src/provider/create-provider.ts (issueRefreshToken: registered for the
 * `refresh_token` grant).
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt } from 'jose';
import { startDocumentServer, type DocumentServer } from '../helpers/document-server.ts';
import { TestOAuthClientProvider } from '../helpers/mcp-oauth-client.ts';
import { startMetadataServer } from '../helpers/net.ts';
import {
  CLAUDE_CALLBACK, CLAUDE_DCR_BODY, clientSecretBasic, connect, registerClient, tokenRequest,
} from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { claudeCodeDocument } from '../registration/support/claude-code-document.ts';

const admin = { username: 'admin', password: ADMIN_PASSWORD };
const INSPECTOR_ORIGIN = 'http://localhost:6274';
/** A server-side web app's callback, allowed by the admin (https redirect URIs are allow-listed). */
const WEB_APP_CALLBACK = 'https://app.example.com/oauth/callback';

/** How a client proves who it is at /oauth/token (RFC 6749 §2.3.1; OAuth 2.1 §2.4.1 for none). */
type ClientAuth = 'none' | 'client_secret_post' | 'client_secret_basic';

interface Shape {
  name: string;
  redirectUri: string;
  clientAuth: ClientAuth;
  /** Extra headers the client sends at /oauth/token (a browser client's Origin). */
  tokenHeaders?: Record<string, string>;
  /** Registers by DCR, or serves its CIMD document; resolves to its client_id (and secret). */
  obtain(): Promise<{ client_id: string; client_secret?: string }>;
}

for (const backend of TEST_BACKENDS) describe(`refresh tokens without offline_access, for every client shape (${backend})`, () => {
  let server: TestAuthServer;
  let docs: DocumentServer;
  let metadata: { server: Server; resource: string };

  before(async () => {
    docs = await startDocumentServer();
    let issuer = '';
    metadata = await startMetadataServer(() => issuer);
    server = await startAuthServer({
      backend,
      env: { RESOURCE_URL: metadata.resource },
      metadataFetch: { dangerouslyAllowLoopback: true, ca: docs.ca },
      configure(config) {
        config.authServer.clientIdMetadataDocuments.trustedHosts = [new URL(docs.origin).host];
        config.authServer.registration.allowedRedirectUris = [...config.authServer.registration.allowedRedirectUris, WEB_APP_CALLBACK];
      },
    });
    issuer = server.issuer;
  });
  after(async () => {
    await server?.close();
    await docs?.close();
    metadata?.server.close();
  });

  const shapes: Shape[] = [
    {
      // claude.ai / Claude Desktop, older connectors: public client (test/helpers/oauth-flow.ts).
      name: 'Claude web/Desktop by DCR, public (none)',
      redirectUri: CLAUDE_CALLBACK,
      clientAuth: 'none',
      obtain: () => registerClient(server.issuer, CLAUDE_DCR_BODY),
    },
    {
      // Newer connectors ask for a secret (anthropics/claude-ai-mcp#1043: "requests
      // token_endpoint_auth_method=client_secret_post", from python-httpx).
      name: 'Claude web/Desktop by DCR, confidential (client_secret_post)',
      redirectUri: CLAUDE_CALLBACK,
      clientAuth: 'client_secret_post',
      obtain: () => registerClient(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_post' }),
    },
    {
      name: 'a DCR confidential client (client_secret_basic, the RFC 7591 default)',
      redirectUri: WEB_APP_CALLBACK,
      clientAuth: 'client_secret_basic',
      obtain: () => registerClient(server.issuer, {
        client_name: 'Confidential web app', redirect_uris: [WEB_APP_CALLBACK],
        grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      }),
    },
    {
      // Claude Code's CIMD document shape (https://claude.ai/oauth/claude-code-client-metadata):
      // public, port-less loopback redirect URIs (RFC 8252 §7.3: any port matches).
      name: 'a CIMD public client (Claude Code document)',
      redirectUri: 'http://localhost:49213/callback',
      clientAuth: 'none',
      obtain: async () => {
        const url = `${docs.origin}/claude-code-client-metadata`;
        docs.json('/claude-code-client-metadata', claudeCodeDocument(url));
        return { client_id: url };
      },
    },
    {
      // mcp-remote's NodeOAuthClientProvider.clientMetadata (geelen/mcp-remote,
      // src/lib/node-oauth-client-provider.ts, 0.0.16): no scope, loopback callback.
      name: 'mcp-remote by DCR',
      redirectUri: 'http://127.0.0.1:3334/oauth/callback',
      clientAuth: 'none',
      obtain: () => registerClient(server.issuer, {
        redirect_uris: ['http://127.0.0.1:3334/oauth/callback'], token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
        client_name: 'MCP CLI Client', client_uri: 'https://github.com/modelcontextprotocol/mcp-cli',
      }),
    },
    {
      // MCP Inspector's InspectorOAuthClientProvider.clientMetadata (modelcontextprotocol/inspector,
      // client/src/lib/auth.ts): `scope: ""` when it has none yet; its token requests come from the
      // browser page at http://localhost:6274, so they carry that Origin.
      name: 'MCP Inspector by DCR (scope "", from the browser)',
      redirectUri: `${INSPECTOR_ORIGIN}/oauth/callback`,
      clientAuth: 'none',
      tokenHeaders: { origin: INSPECTOR_ORIGIN },
      obtain: () => registerClient(server.issuer, {
        redirect_uris: [`${INSPECTOR_ORIGIN}/oauth/callback`], token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
        client_name: 'MCP Inspector', client_uri: 'https://github.com/modelcontextprotocol/inspector', scope: '',
      }),
    },
  ];

  /** The client's own authentication at /oauth/token, added to `params`. */
  function authenticated(shape: Shape, client: { client_id: string; client_secret?: string }, params: Record<string, string>) {
    const headers = { ...shape.tokenHeaders };
    if (shape.clientAuth === 'client_secret_basic') return tokenRequest(server.issuer, params, { ...headers, ...clientSecretBasic(client.client_id, client.client_secret!) });
    const body = { ...params, client_id: client.client_id, ...(shape.clientAuth === 'client_secret_post' ? { client_secret: client.client_secret! } : {}) };
    return tokenRequest(server.issuer, body, headers);
  }

  for (const shape of shapes) {
    test(`${shape.name}: the code exchange returns a refresh token for mcp:read alone, and it refreshes (rotating)`, async () => {
      const client = await shape.obtain();
      if (shape.clientAuth !== 'none') assert.ok(client.client_secret, 'a confidential client got a secret');
      const result = await connect(server.issuer, { clientId: client.client_id, redirectUri: shape.redirectUri, scope: 'mcp:read', resource: metadata.resource, ...admin });
      assert.doesNotMatch(result.callback.searchParams.get('scope') ?? '', /offline_access/);

      const tokens = await authenticated(shape, client, {
        grant_type: 'authorization_code', code: result.code, code_verifier: result.verifier, redirect_uri: shape.redirectUri, resource: metadata.resource,
      });
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      assert.equal(tokens.body.scope, 'mcp:read', 'no offline_access was asked for or granted');
      assert.equal(typeof tokens.body.refresh_token, 'string', 'a refresh token all the same');
      if (shape.tokenHeaders?.origin) assert.equal(tokens.headers.get('access-control-allow-origin'), shape.tokenHeaders.origin);

      let refreshToken = tokens.body.refresh_token as string;
      for (let round = 1; round <= 2; round += 1) {
        const refreshed = await authenticated(shape, client, { grant_type: 'refresh_token', refresh_token: refreshToken });
        assert.equal(refreshed.status, 200, `refresh ${round}: ${JSON.stringify(refreshed.body)}`);
        assert.equal(decodeJwt(refreshed.body.access_token as string).aud, metadata.resource);
        assert.equal(decodeJwt(refreshed.body.access_token as string).scope, 'mcp:read');
        assert.notEqual(refreshed.body.refresh_token, refreshToken, `refresh ${round} rotated the refresh token`);
        refreshToken = refreshed.body.refresh_token as string;
      }
    });
  }

  test('the MCP SDK client (its own DCR body, discovery and token requests): refresh token without offline_access, and auth() refreshes with it', async () => {
    const provider = new TestOAuthClientProvider('http://127.0.0.1:51516/callback');
    assert.equal(await auth(provider, { serverUrl: metadata.resource, scope: 'mcp:read' }), 'REDIRECT');
    assert.doesNotMatch(provider.authorizationUrls.at(-1)!.searchParams.get('scope') ?? '', /offline_access/);
    const landed = await provider.signInAt(server.issuer, admin.username, admin.password);
    assert.equal(await auth(provider, { serverUrl: metadata.resource, authorizationCode: landed.searchParams.get('code')! }), 'AUTHORIZED');
    const first = provider.savedTokens!;
    assert.equal(first.scope, 'mcp:read');
    assert.ok(first.refresh_token, 'a refresh token without offline_access');

    // With tokens saved, the SDK's auth() refreshes (client/auth.ts: refresh_token present).
    assert.equal(await auth(provider, { serverUrl: metadata.resource }), 'AUTHORIZED');
    const second = provider.savedTokens!;
    assert.notEqual(second.access_token, first.access_token);
    assert.notEqual(second.refresh_token, first.refresh_token, 'rotated');
    assert.equal(decodeJwt(second.access_token).aud, metadata.resource);
  });
});
