import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { Browser } from '../helpers/browser.ts';
import { startDocumentServer, type DocumentServer } from '../helpers/document-server.ts';
import { TestOAuthClientProvider } from '../helpers/mcp-oauth-client.ts';
import { startMetadataServer } from '../helpers/net.ts';
import { authorizeUrl, connect, redeem, refresh, signIn } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { claudeCodeDocument } from './support/claude-code-document.ts';

describe('Client ID Metadata Documents', () => {
  let docs: DocumentServer;
  let metadata: { server: Server; resource: string };
  let server: TestAuthServer;

  before(async () => {
    docs = await startDocumentServer();
    let issuer = '';
    metadata = await startMetadataServer(() => issuer);
    server = await startAuthServer({
      env: { RESOURCE_URL: metadata.resource },
      metadataFetch: { dangerouslyAllowLoopback: true, ca: docs.ca },
      configure(config) {
        config.authServer.clientIdMetadataDocuments.trustedHosts = [new URL(docs.origin).host];
      },
    });
    issuer = server.issuer;
  });
  after(async () => {
    await server.close();
    await docs.close();
    metadata.server.close();
  });

  /** Opens /oauth/authorize for a CIMD client_id; returns the page (error page or sign-in). */
  async function open(clientId: string, redirectUri = 'http://localhost:49152/callback') {
    const browser = new Browser(server.issuer);
    const page = await browser.navigate(authorizeUrl(server.issuer, { clientId, redirectUri, scope: 'mcp:read', resource: metadata.resource }, createPkce().challenge));
    return { page, browser };
  }

  function assertRefused(page: { status: number; html: string; headers: Headers }, what: string) {
    assert.equal(page.status, 400, `${what}: status ${page.status}`);
    assert.equal(page.headers.get('location'), null, `${what}: never redirected`);
    assert.match(page.html, /This request cannot continue/, what);
    assert.doesNotMatch(page.html, /name="password"/, `${what}: no sign-in page`);
  }

  test('metadata advertises CIMD support with the public-client method', async () => {
    const body = await (await fetch(`${server.issuer}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>;
    assert.equal(body.client_id_metadata_document_supported, true);
    assert.ok((body.token_endpoint_auth_methods_supported as string[]).includes('none'));
  });

  test('the MCP SDK client uses its clientMetadataUrl for the whole flow, refresh included', async () => {
    const callback = 'http://127.0.0.1:51515/callback';
    const url = `${docs.origin}/sdk-client.json`;
    docs.json('/sdk-client.json', { client_id: url, client_name: 'SDK test client', redirect_uris: [callback], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' });
    const provider = new TestOAuthClientProvider(callback);
    provider.clientMetadataUrl = url;
    assert.equal(await auth(provider, { serverUrl: metadata.resource, scope: 'mcp:read' }), 'REDIRECT');
    assert.equal(provider.authorizationUrls.at(-1)!.searchParams.get('client_id'), url, 'no registration: the URL is the client_id');
    const landed = await provider.signInAt(server.issuer, 'admin', ADMIN_PASSWORD);
    assert.equal(await auth(provider, { serverUrl: metadata.resource, authorizationCode: landed.searchParams.get('code')! }), 'AUTHORIZED');
    const jwks = createRemoteJWKSet(new URL(`${server.issuer}/oauth/jwks`));
    const { payload } = await jwtVerify(provider.savedTokens!.access_token, jwks, { issuer: server.issuer, audience: metadata.resource });
    assert.equal(payload.client_id, url);
    assert.equal(await auth(provider, { serverUrl: metadata.resource }), 'AUTHORIZED', 'refresh works for a CIMD client');
  });

  test("Claude Code's port-less loopback document works on an ephemeral port, refresh included", async () => {
    const url = `${docs.origin}/oauth/claude-code-client-metadata`;
    docs.json('/oauth/claude-code-client-metadata', claudeCodeDocument(url));
    const result = await connect(server.issuer, { clientId: url, redirectUri: 'http://localhost:54321/callback', scope: 'mcp:read', resource: metadata.resource, username: 'admin', password: ADMIN_PASSWORD });
    assert.equal(result.callback.origin, 'http://localhost:54321');
    const tokens = await redeem(server.issuer, { client_id: url }, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const refreshed = await refresh(server.issuer, { client_id: url }, tokens.body.refresh_token as string);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  });

  test('the consent page shows the document host', async () => {
    const url = `${docs.origin}/shown.json`;
    docs.json('/shown.json', claudeCodeDocument(url));
    const { page, browser } = await open(url);
    const consent = await signIn(browser, page, 'admin', ADMIN_PASSWORD);
    assert.match(consent.html, new RegExp(`identifies itself with a document on <strong class="host">${new URL(docs.origin).host}</strong>`));
    assert.doesNotMatch(consent.html, /which this server does not know/, 'a trusted host gets no warning');
  });

  const refusals: Array<[string, (url: string) => { path: string; respond?: (docsServer: DocumentServer) => void; clientId?: string; redirectUri?: string }]> = [
    ['a document whose client_id is another URL', (url) => ({ path: '/mismatch.json', respond: (d) => d.json('/mismatch.json', claudeCodeDocument(`${url}-other`)) })],
    ['a document that redirects', () => ({ path: '/moved.json', respond: (d) => d.handle('/moved.json', (_req, res) => { res.writeHead(302, { location: `${d.origin}/sdk-client.json` }); res.end(); }) })],
    ['a document over the size cap', (url) => ({ path: '/huge.json', respond: (d) => d.json('/huge.json', claudeCodeDocument(url, { x_padding: 'x'.repeat(6000) })) })],
    ['a document whose client_name carries a right-to-left override', (url) => ({ path: '/bidi.json', respond: (d) => d.json('/bidi.json', claudeCodeDocument(url, { client_name: 'Claude \u202e(untrusted)' })) })],
    ['a document with a client_secret', (url) => ({ path: '/secret.json', respond: (d) => d.json('/secret.json', claudeCodeDocument(url, { client_secret: 'shh' })) })],
    ['a document asking for client_secret_post', (url) => ({ path: '/post.json', respond: (d) => d.json('/post.json', claudeCodeDocument(url, { token_endpoint_auth_method: 'client_secret_post' })) })],
    ['a document asking for private_key_jwt without publishing keys', (url) => ({ path: '/pkjwt.json', respond: (d) => d.json('/pkjwt.json', claudeCodeDocument(url, { token_endpoint_auth_method: 'private_key_jwt' })) })],
    ['a document whose id_token_signed_response_alg is not a string', (url) => ({ path: '/alg.json', respond: (d) => d.json('/alg.json', claudeCodeDocument(url, { id_token_signed_response_alg: { toString: 1 } })) })],
    ['a redirect URI the document does not list', (url) => ({ path: '/listed.json', respond: (d) => d.json('/listed.json', claudeCodeDocument(url)), redirectUri: 'https://evil.example/callback' })],
    ['a document that is not JSON', () => ({ path: '/html.json', respond: (d) => d.handle('/html.json', (_req, res) => { res.end('<html>'); }) })],
    ['a document that is missing (404)', () => ({ path: '/missing.json' })],
    ['a client_id without a path', () => ({ path: '/', clientId: docs.origin })],
    ['a client_id with a fragment', (url) => ({ path: '/frag.json', clientId: `${url}#x` })],
    ['a client_id with userinfo', () => ({ path: '/user.json', clientId: docs.origin.replace('https://', 'https://user@') + '/user.json' })],
    ['a client_id with dot segments', () => ({ path: '/a/../dots.json', clientId: `${docs.origin}/a/../dots.json` })],
    ['a plain http client_id', () => ({ path: '/plain.json', clientId: `http://127.0.0.1:1/plain.json` })],
  ];
  for (const [name, make] of refusals) {
    test(`refuses ${name}, on the error page without redirecting`, async () => {
      const url = `${docs.origin}${make('').path}`;
      const spec = make(url);
      spec.respond?.(docs);
      const { page } = await open(spec.clientId ?? url, spec.redirectUri);
      assertRefused(page, name);
    });
  }

  test('never fetches a document\'s sector_identifier_uri: it is dropped, as there are no pairwise subjects here', async () => {
    const url = `${docs.origin}/sector-client.json`;
    const sector = docs.json('/sector.json', claudeCodeDocument(url).redirect_uris);
    docs.json('/sector-client.json', claudeCodeDocument(url, { sector_identifier_uri: sector }));
    const { page } = await open(url);
    assert.equal(docs.hits.get('/sector.json'), undefined, 'the sector_identifier_uri was fetched');
    assert.match(page.html, /name="password"/, 'the client is usable');
  });

  test('refuses a document that answers too slowly', async () => {
    const url = `${docs.origin}/slow.json`;
    docs.handle('/slow.json', (_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(claudeCodeDocument(url)));
      }, 3500);
    });
    const started = Date.now();
    const { page } = await open(url);
    assertRefused(page, 'slow document');
    assert.ok(Date.now() - started < 3400, 'gave up before the document came');
  });

  test('caches a valid document as Cache-Control says, and never caches a failure', async () => {
    const url = `${docs.origin}/cached.json`;
    docs.json('/cached.json', claudeCodeDocument(url), { 'cache-control': 'max-age=300' });
    await open(url);
    await open(url);
    assert.equal(docs.hits.get('/cached.json'), 1, 'fetched once for two authorizations');

    const flaky = `${docs.origin}/flaky.json`;
    docs.json('/flaky.json', claudeCodeDocument(`${flaky}-wrong`));
    assertRefused((await open(flaky)).page, 'first, invalid');
    docs.json('/flaky.json', claudeCodeDocument(flaky));
    const { page } = await open(flaky);
    assert.match(page.html, /name="password"/, 'the fixed document is fetched again, not a cached failure');
  });
});

describe('Client ID Metadata Documents: address and host policy', () => {
  test('without the test switch, a document on a loopback address is refused', async () => {
    const docs = await startDocumentServer('127.0.0.1');
    const server = await startAuthServer({ metadataFetch: { ca: docs.ca } });
    try {
      for (const clientId of [docs.json('/doc.json', {}), docs.json('/doc.json', {}).replace('127.0.0.1', 'localhost'), 'https://10.1.2.3/doc.json', 'https://[::1]/doc.json', 'https://169.254.169.254/latest/meta-data']) {
        const browser = new Browser(server.issuer);
        const page = await browser.navigate(authorizeUrl(server.issuer, { clientId, redirectUri: 'http://localhost:1234/cb', scope: 'mcp:read' }, createPkce().challenge));
        assert.equal(page.status, 400, clientId);
        assert.doesNotMatch(page.html, /name="password"/, clientId);
      }
      assert.equal(docs.hits.get('/doc.json') ?? 0, 0, 'no request ever reached the loopback server');
    } finally {
      await server.close();
      await docs.close();
    }
  });

  for (const [policy, expectation] of [['warn', 'warning'], ['refuse', 'refused'], ['allow', 'silent']] as const) {
    test(`a document on an untrusted host with untrusted_hosts: ${policy} is ${expectation}`, async () => {
      const docs = await startDocumentServer();
      const server = await startAuthServer({
        metadataFetch: { dangerouslyAllowLoopback: true, ca: docs.ca },
        configure(config) {
          config.authServer.clientIdMetadataDocuments.trustedHosts = ['claude.ai'];
          config.authServer.clientIdMetadataDocuments.untrustedHosts = policy;
        },
      });
      try {
        const url = `${docs.origin}/untrusted.json`;
        docs.json('/untrusted.json', claudeCodeDocument(url));
        const browser = new Browser(server.issuer);
        const page = await browser.navigate(authorizeUrl(server.issuer, { clientId: url, redirectUri: 'http://localhost:1234/callback', scope: 'mcp:read', resource: 'http://localhost:4001/mcp' }, createPkce().challenge));
        if (policy === 'refuse') {
          assert.equal(page.status, 400);
          assert.equal(docs.hits.get('/untrusted.json') ?? 0, 0, 'not even fetched');
          return;
        }
        const consent = await signIn(browser, page, 'admin', ADMIN_PASSWORD);
        const warned = /which this server does not know/.test(consent.html);
        assert.equal(warned, policy === 'warn');
      } finally {
        await server.close();
        await docs.close();
      }
    });
  }

  test('metadata does not advertise CIMD when it is switched off, and a URL client_id is unknown', async () => {
    const server = await startAuthServer({ configure(config) { config.authServer.clientIdMetadataDocuments.enabled = false; } });
    try {
      const body = await (await fetch(`${server.issuer}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>;
      assert.equal(body.client_id_metadata_document_supported, undefined);
    } finally {
      await server.close();
    }
  });
});
