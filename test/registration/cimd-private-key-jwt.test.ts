/**
 * Client ID Metadata Document clients that authenticate with private_key_jwt (RFC 7523 §2.2),
 * as ChatGPT does: its document, the whole connector flow with client assertions, the choice
 * among the methods a document lists (RP Metadata Choices), and every way an assertion or a
 * document is refused.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { Browser } from '../helpers/browser.ts';
import { startDocumentServer, type DocumentServer } from '../helpers/document-server.ts';
import { startConnectionCounter, startMetadataServer, type ConnectionCounter } from '../helpers/net.ts';
import { assertNoStackTrace, authorizeUrl, connect, redeem, refresh, register, tokenRequest } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import type { GatehouseConfig } from '../../apps/shared/config/load-config.ts';
import { CHATGPT_ID, CHATGPT_REDIRECT_URI, chatgptDocument, ClientKey, JWT_BEARER_ASSERTION } from './support/chatgpt-client.ts';

describe('CIMD clients with private_key_jwt (ChatGPT)', () => {
  let docs: DocumentServer;
  let metadata: { server: Server; resource: string };
  let server: TestAuthServer;
  let key: ClientKey;
  let tokenEndpoint: string;
  let documentCount = 0;

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
    tokenEndpoint = `${server.issuer}/oauth/token`;
    key = await ClientKey.generate('RS256');
  });
  after(async () => {
    await server.close();
    await docs.close();
    metadata.server.close();
  });

  /** Publishes a ChatGPT-shaped document (and its JWK Set) under a path of its own; returns its client_id. */
  function publish(extra: Record<string, unknown> = {}, jwks: unknown = key.jwks()): string {
    documentCount += 1;
    const jwksUri = docs.json(`/oauth/jwks-${documentCount}.json`, jwks);
    return docs.json(`/oauth/${CHATGPT_ID}-${documentCount}/client.json`, chatgptDocument(`${docs.origin}/oauth/${CHATGPT_ID}-${documentCount}/client.json`, jwksUri, extra));
  }

  async function signInAs(clientId: string) {
    return connect(server.issuer, { clientId, redirectUri: CHATGPT_REDIRECT_URI, scope: 'mcp:read', resource: metadata.resource, username: 'admin', password: ADMIN_PASSWORD });
  }

  test('metadata lists private_key_jwt and its algorithms beside none', async () => {
    const body = await (await fetch(`${server.issuer}/.well-known/oauth-authorization-server`)).json() as Record<string, string[]>;
    assert.deepEqual(body.token_endpoint_auth_methods_supported, ['none', 'client_secret_post', 'client_secret_basic', 'private_key_jwt']);
    assert.deepEqual(body.token_endpoint_auth_signing_alg_values_supported, ['RS256', 'ES256']);
    assert.equal((body as unknown as Record<string, unknown>).client_id_metadata_document_supported, true);
  });

  test("ChatGPT's document: PKCE authorization, then code exchange, refresh and revocation each with a client assertion", async () => {
    const clientId = publish();
    const flow = await signInAs(clientId);
    assert.equal(flow.callback.origin + flow.callback.pathname, CHATGPT_REDIRECT_URI);

    const tokens = await redeem(server.issuer, { client_id: clientId }, flow, { ...await key.authParams(clientId, tokenEndpoint), resource: metadata.resource });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const jwks = createRemoteJWKSet(new URL(`${server.issuer}/oauth/jwks`));
    const { payload } = await jwtVerify(tokens.body.access_token as string, jwks, { issuer: server.issuer, audience: metadata.resource, typ: 'at+jwt' });
    assert.equal(payload.client_id, clientId);
    assert.ok(tokens.body.refresh_token, 'a refresh token without offline_access');

    // RFC 7521 §4.2: client_id is optional beside an assertion; its sub names the client.
    const { client_id: _omitted, ...withoutClientId } = await key.authParams(clientId, tokenEndpoint);
    const refreshed = await tokenRequest(server.issuer, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string, ...withoutClientId });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    const again = await jwtVerify(refreshed.body.access_token as string, jwks, { issuer: server.issuer, audience: metadata.resource });
    assert.equal(again.payload.client_id, clientId, 'still bound to our resource after refresh');

    const revoked = await fetch(`${server.issuer}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: refreshed.body.refresh_token as string, ...await key.authParams(clientId, `${server.issuer}/oauth/revoke`) }),
    });
    assert.equal(revoked.status, 200, await revoked.clone().text());
    const afterRevoke = await refresh(server.issuer, { client_id: clientId }, refreshed.body.refresh_token as string, await key.authParams(clientId, tokenEndpoint));
    assert.equal(afterRevoke.status, 400);
    assert.equal(afterRevoke.body.error, 'invalid_grant');
  });

  test('an assertion whose aud is the issuer is accepted too (RFC 7523 §3: the AS identifies itself either way)', async () => {
    const clientId = publish();
    const flow = await signInAs(clientId);
    const tokens = await redeem(server.issuer, { client_id: clientId }, flow, await key.authParams(clientId, tokenEndpoint, { aud: server.issuer }));
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  });

  test('an ES256 key published inline in the document works', async () => {
    const es = await ClientKey.generate('ES256');
    const clientId = publish({ jwks_uri: undefined, jwks: es.jwks(), token_endpoint_auth_signing_alg: 'ES256' });
    const flow = await signInAs(clientId);
    const tokens = await redeem(server.issuer, { client_id: clientId }, flow, await es.authParams(clientId, tokenEndpoint));
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(decodeProtectedHeader(tokens.body.access_token as string).alg, 'RS256', 'our tokens stay RS256');
  });

  test('a document listing [none, private_key_jwt] without declaring one is a public client (the first listed wins; its signing alg is ignored)', async () => {
    const clientId = publish({ token_endpoint_auth_method: undefined });
    const flow = await signInAs(clientId);
    const tokens = await redeem(server.issuer, { client_id: clientId }, flow);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  });

  test('a document declaring a method we do not offer falls back to one it lists that we do', async () => {
    const clientId = publish({ token_endpoint_auth_method: 'tls_client_auth', token_endpoint_auth_methods_supported: ['tls_client_auth', 'private_key_jwt'] });
    const flow = await signInAs(clientId);
    const withoutAssertion = await redeem(server.issuer, { client_id: clientId }, flow);
    assert.equal(withoutAssertion.status, 401, 'private_key_jwt was chosen: a bare client_id is not enough');
    const flow2 = await signInAs(clientId);
    const tokens = await redeem(server.issuer, { client_id: clientId }, flow2, await key.authParams(clientId, tokenEndpoint));
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  });

  test('DCR: a registration listing several methods gets one a registered client may use', async () => {
    const response = await register(server.issuer, {
      client_name: 'lists methods',
      redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
      token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_post'],
    });
    const body = await response.json() as Record<string, unknown>;
    assert.equal(response.status, 201, JSON.stringify(body));
    assert.equal(body.token_endpoint_auth_method, 'client_secret_post', 'private_key_jwt is skipped: a registered client cannot register keys');
    assert.ok(body.client_secret);
    assert.equal(body.token_endpoint_auth_methods_supported, undefined, 'the choices are not stored');
  });

  test('DCR: private_key_jwt is refused with invalid_client_metadata', async () => {
    const response = await register(server.issuer, {
      client_name: 'wants keys',
      redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: 'https://example.com/jwks.json',
    });
    assert.equal(response.status, 400);
    assert.equal((await response.json() as Record<string, unknown>).error, 'invalid_client_metadata');
  });

  describe('refused client authentication', () => {
    type Case = [string, (clientId: string) => Promise<Record<string, string>>, number, string];
    const now = () => Math.floor(Date.now() / 1000);
    const unsigned = (clientId: string) => {
      const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${part({ alg: 'none', typ: 'JWT' })}.${part({ iss: clientId, sub: clientId, aud: tokenEndpoint, jti: crypto.randomUUID(), exp: now() + 60 })}.`;
    };
    const cases: Case[] = [
      ['an assertion signed by a key not in the JWKS', async (id) => (await ClientKey.generate('RS256')).authParams(id, tokenEndpoint), 401, 'invalid_client'],
      ['an assertion for another audience', (id) => key.authParams(id, tokenEndpoint, { aud: 'https://other.example/oauth/token' }), 401, 'invalid_client'],
      ['an expired assertion', (id) => key.authParams(id, tokenEndpoint, { iat: now() - 600, exp: now() - 300 }), 401, 'invalid_client'],
      ['an assertion whose iss is not the client', (id) => key.authParams(id, tokenEndpoint, { iss: 'https://evil.example/client.json' }), 401, 'invalid_client'],
      ['HS256 keyed with the published JWK Set', async (id) => ({
        client_id: id,
        client_assertion_type: JWT_BEARER_ASSERTION,
        client_assertion: await new SignJWT({ jti: crypto.randomUUID() }).setProtectedHeader({ alg: 'HS256' }).setIssuer(id).setSubject(id)
          .setAudience(tokenEndpoint).setIssuedAt().setExpirationTime('1m').sign(new TextEncoder().encode(JSON.stringify(key.jwks()))),
      }), 401, 'invalid_client'],
      ['an unsigned assertion (alg none)', async (id) => ({ client_id: id, client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: unsigned(id) }), 401, 'invalid_client'],
      ['no assertion at all (as a public client)', async (id) => ({ client_id: id }), 401, 'invalid_client'],
      ['a client secret instead', async (id) => ({ client_id: id, client_secret: 'guess' }), 401, 'invalid_client'],
      ['another client_assertion_type', async (id) => ({ ...await key.authParams(id, tokenEndpoint), client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }), 400, 'invalid_request'],
    ];
    for (const [name, params, status, error] of cases) {
      test(`refuses ${name}: ${status} ${error}`, async () => {
        const clientId = publish();
        const response = await tokenRequest(server.issuer, { grant_type: 'refresh_token', refresh_token: 'not-a-token', ...await params(clientId) });
        assert.equal(response.status, status, JSON.stringify(response.body));
        assert.equal(response.body.error, error);
        assertNoStackTrace(JSON.stringify(response.body), name);
      });
    }

    test('refuses a replayed assertion (the same jti twice): 401 invalid_client', async () => {
      const clientId = publish();
      const params = await key.authParams(clientId, tokenEndpoint);
      const first = await tokenRequest(server.issuer, { grant_type: 'refresh_token', refresh_token: 'not-a-token', ...params });
      assert.equal(first.status, 400, 'the client authenticated; only the grant failed');
      assert.equal(first.body.error, 'invalid_grant');
      const second = await tokenRequest(server.issuer, { grant_type: 'refresh_token', refresh_token: 'not-a-token', ...params });
      assert.equal(second.status, 401);
      assert.equal(second.body.error, 'invalid_client');
    });

    for (const address of ['169.254.169.254', '10.0.0.1', '192.168.1.1', '[fd00::1]']) {
      test(`refuses a jwks_uri on the special-use address ${address}, without waiting for it`, async () => {
        const clientId = publish({ jwks_uri: `https://${address}/oauth/jwks.json` });
        const started = performance.now();
        const response = await tokenRequest(server.issuer, { grant_type: 'refresh_token', refresh_token: 'not-a-token', ...await key.authParams(clientId, tokenEndpoint) });
        assert.equal(response.status, 401, JSON.stringify(response.body));
        assert.equal(response.body.error, 'invalid_client');
        assert.ok(performance.now() - started < 2000, 'refused before any connection was tried');
      });
    }
  });

  describe('a jwks_uri redirecting to a special-use IP literal', () => {
    let internal: ConnectionCounter;
    before(async () => { internal = await startConnectionCounter(); });
    after(() => internal.close());

    // [::ffff:127.0.0.1] stands for any special-use address (10.x, 169.254.169.254): the loopback
    // test switch lets only 127.0.0.0/8 and ::1 through as written, yet it reaches the counter.
    for (const scheme of ['http', 'https']) {
      test(`refuses the client and opens no connection there (${scheme})`, async () => {
        const jwksUri = docs.handle(`/oauth/jwks-moved-${scheme}.json`, (_req, res) => {
          res.writeHead(302, { location: `${scheme}://[::ffff:127.0.0.1]:${internal.port}/jwks.json` }).end();
        });
        const clientId = publish({ jwks_uri: jwksUri });
        const response = await tokenRequest(server.issuer, { grant_type: 'refresh_token', refresh_token: 'not-a-token', ...await key.authParams(clientId, tokenEndpoint) });
        assert.equal(response.status, 401, JSON.stringify(response.body));
        assert.equal(response.body.error, 'invalid_client');
        assert.equal(await internal.connectionsSoFar(), 0);
      });
    }
  });

  describe('refused documents (at /oauth/authorize, on the error page)', () => {
    const documents: Array<[string, Record<string, unknown>]> = [
      ['a document listing only methods we do not offer', { token_endpoint_auth_method: undefined, token_endpoint_auth_methods_supported: ['tls_client_auth', 'client_secret_jwt'] }],
      ['a document whose declared method is missing from its own list', { token_endpoint_auth_methods_supported: ['none'] }],
      ['a document whose method list is not an array', { token_endpoint_auth_methods_supported: 'none private_key_jwt' }],
      ['a private_key_jwt document with an http jwks_uri', { jwks_uri: 'http://chatgpt.com/oauth/jwks.json' }],
      ['a private_key_jwt document asking for HS256', { token_endpoint_auth_signing_alg: 'HS256' }],
      ['a private_key_jwt document asking for alg none', { token_endpoint_auth_signing_alg: 'none' }],
      ['a document with both jwks and jwks_uri', { jwks: { keys: [] } }],
    ];
    for (const [name, extra] of documents) {
      test(`refuses ${name}`, async () => {
        const clientId = publish(extra);
        const browser = new Browser(server.issuer);
        const page = await browser.navigate(authorizeUrl(server.issuer, { clientId, redirectUri: CHATGPT_REDIRECT_URI, scope: 'mcp:read', resource: metadata.resource }, createPkce().challenge));
        assert.equal(page.status, 400, `${name}: ${page.html.slice(0, 300)}`);
        assert.equal(page.headers.get('location'), null, 'never redirected');
        assert.doesNotMatch(page.html, /name="password"/);
      });
    }
  });
});

if (TEST_BACKENDS.includes('postgres')) describe('CIMD private_key_jwt on two replicas (postgres)', () => {
  let docs: DocumentServer;
  let first: TestAuthServer;
  let second: TestAuthServer;

  before(async () => {
    docs = await startDocumentServer();
    const trustDocs = (config: GatehouseConfig) => { config.authServer.clientIdMetadataDocuments.trustedHosts = [new URL(docs.origin).host]; };
    first = await startAuthServer({ backend: 'postgres', metadataFetch: { dangerouslyAllowLoopback: true, ca: docs.ca }, configure: trustDocs });
    // A replica: the same database and issuer (a load balancer's one address).
    second = await startAuthServer({
      databaseUrl: first.config.authServer.database.postgres!.url,
      metadataFetch: { dangerouslyAllowLoopback: true, ca: docs.ca },
      configure: (config) => { trustDocs(config); config.authServer.issuer = first.config.authServer.issuer; },
    });
  });
  after(async () => {
    await second.close();
    await first.close();
    await docs.close();
  });

  test('one client assertion sent to both replicas at once is accepted by one; the other answers invalid_client', async () => {
    const key = await ClientKey.generate('RS256');
    const jwksUri = docs.json('/oauth/jwks.json', key.jwks());
    const clientId = docs.json(`/oauth/${CHATGPT_ID}/client.json`, chatgptDocument(`${docs.origin}/oauth/${CHATGPT_ID}/client.json`, jwksUri));
    const tokenEndpoint = `${first.config.authServer.issuer}/oauth/token`;
    for (let attempt = 0; attempt < 10; attempt++) {
      const params = { grant_type: 'refresh_token', refresh_token: 'not-a-token', ...await key.authParams(clientId, tokenEndpoint) };
      const answers = await Promise.all([tokenRequest(first.issuer, params), tokenRequest(second.issuer, params)]);
      // Authenticated, then refused for the made-up refresh token (400 invalid_grant); or refused as a replay.
      assert.deepEqual(answers.map((a) => `${a.status} ${a.body.error as string}`).sort(), ['400 invalid_grant', '401 invalid_client'], `attempt ${attempt}`);
    }
  });
});
