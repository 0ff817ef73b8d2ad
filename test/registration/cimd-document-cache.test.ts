/**
 * Client ID Metadata Documents (and the JWK Sets they name) when their hosts misbehave, as they do
 * in practice: 404s, CDN challenge pages, HTML, timeouts. The last good copy is served for a
 * bounded time past its freshness, with a warning; a failure is remembered only a few seconds; a
 * document that fetched fine but is invalid is never replaced by its older copy. Time is moved on
 * a test clock (cache_min is 0, so the provider's own cache keeps nothing and every lookup reaches
 * ours).
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../apps/shared/logger.ts';
import { Browser } from '../helpers/browser.ts';
import { startDocumentServer, type DocumentServer, type Handler } from '../helpers/document-server.ts';
import { startMetadataServer } from '../helpers/net.ts';
import { authorizeUrl, connect, redeem, refresh } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { CHATGPT_REDIRECT_URI, chatgptDocument, ClientKey } from './support/chatgpt-client.ts';
import { claudeCodeDocument } from './support/claude-code-document.ts';

const FRESH = 300;
const MAX_STALE = 3600;
const REDIRECT_URI = 'http://localhost:49152/callback';

describe('CIMD documents when their hosts fail', () => {
  let docs: DocumentServer;
  let metadata: { server: Server; resource: string };
  let server: TestAuthServer;
  const clock = new TestClock();
  const logLines: Array<Record<string, unknown>> = [];
  const held: Array<{ end(): void }> = [];
  let count = 0;

  before(async () => {
    docs = await startDocumentServer();
    let issuer = '';
    metadata = await startMetadataServer(() => issuer);
    const sink = new Writable({ write(chunk, _enc, done) { logLines.push(JSON.parse(String(chunk)) as Record<string, unknown>); done(); } });
    server = await startAuthServer({
      env: { RESOURCE_URL: metadata.resource },
      metadataFetch: { dangerouslyAllowLoopback: true, ca: docs.ca },
      clock,
      logger: createLogger('auth-server', 'warn', sink),
      configure(config) {
        const settings = config.authServer.clientIdMetadataDocuments;
        settings.trustedHosts = [new URL(docs.origin).host];
        settings.cacheMin = 0;
        settings.maxStale = MAX_STALE;
      },
    });
    issuer = server.issuer;
  });
  after(async () => {
    for (const response of held) response.end();
    await server.close();
    await docs.close();
    metadata.server.close();
  });

  /** A good document on a path of its own, fresh for FRESH seconds; returns its client_id and path. */
  function publish(): { clientId: string; path: string } {
    count += 1;
    const path = `/cached-${count}.json`;
    const clientId = docs.json(path, claudeCodeDocument(`${docs.origin}${path}`), { 'cache-control': `max-age=${FRESH}` });
    return { clientId, path };
  }

  async function open(clientId: string) {
    const browser = new Browser(server.issuer);
    return browser.navigate(authorizeUrl(server.issuer, { clientId, redirectUri: REDIRECT_URI, scope: 'mcp:read', resource: metadata.resource }, createPkce().challenge));
  }

  async function assertWorks(clientId: string, what: string) {
    const page = await open(clientId);
    assert.match(page.html, /name="password"/, `${what}: the sign-in page (status ${page.status})`);
  }

  async function assertRefused(clientId: string, what: string) {
    const page = await open(clientId);
    assert.equal(page.status, 400, what);
    assert.doesNotMatch(page.html, /name="password"/, what);
  }

  function staleWarnings(key: 'client_id' | 'jwks_uri', url: string) {
    return logLines.filter((l) => l[key] === url && l.level === 40);
  }

  const failures: Array<[string, Handler, string]> = [
    ['answers 404', (_req, res) => { res.statusCode = 404; res.end('not found'); }, 'status 404'],
    ['answers a CDN challenge page (403, HTML)', (_req, res) => { res.writeHead(403, { 'content-type': 'text/html' }); res.end('<html><title>Just a moment...</title></html>'); }, 'status 403'],
    ['answers HTML with 200', (_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><p>Maintenance</p>'); }, 'not a JSON object'],
    ['does not answer in time', (_req, res) => { held.push(res); }, 'timeout'],
  ];
  for (const [name, failing, reason] of failures) {
    test(`a document whose host now ${name} is served from its last good copy, with a warning`, async () => {
      const { clientId, path } = publish();
      await assertWorks(clientId, 'fresh');
      await assertWorks(clientId, 'again');
      assert.equal(docs.hits.get(path), 1, 'fresh: served from memory');

      clock.advance(FRESH + 1);
      docs.handle(path, failing);
      await assertWorks(clientId, 'stale');
      assert.equal(docs.hits.get(path), 2, 'a refetch was tried');
      const [warning, ...more] = staleWarnings('client_id', clientId);
      assert.ok(warning, 'logged at warn');
      assert.equal(more.length, 0, 'once');
      assert.equal(warning.reason, reason);
      assert.equal(warning.staleSeconds, 1);
      assert.doesNotMatch(JSON.stringify(warning), /Claude Code|redirect_uris/, 'the document itself is not logged');
    });
  }

  // RFC 6749 §5.2: invalid_client; 401 is a MUST only when the client authenticated with the
  // Authorization header, so the provider's 400 for a client it cannot load is right.
  test('past max_stale the client is refused: at /authorize, and at the token endpoint with invalid_client', async () => {
    const { clientId, path } = publish();
    const tokens = await redeem(server.issuer, { client_id: clientId }, await connect(server.issuer, {
      clientId, redirectUri: REDIRECT_URI, scope: 'mcp:read', resource: metadata.resource, username: 'admin', password: ADMIN_PASSWORD,
    }));
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));

    clock.advance(FRESH + 1);
    docs.handle(path, (_req, res) => { res.statusCode = 404; res.end(); });
    const whileStale = await refresh(server.issuer, { client_id: clientId }, tokens.body.refresh_token as string);
    assert.equal(whileStale.status, 200, `refresh works while stale: ${JSON.stringify(whileStale.body)}`);

    clock.advance(MAX_STALE);
    await assertRefused(clientId, 'past max_stale');
    const refused = await refresh(server.issuer, { client_id: clientId }, whileStale.body.refresh_token as string);
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error, 'invalid_client');
  });

  test('a failure is remembered a few seconds, never longer: a host that comes back is used after that', async () => {
    count += 1;
    const path = `/comes-back-${count}.json`;
    const clientId = `${docs.origin}${path}`;
    docs.handle(path, (_req, res) => { res.statusCode = 503; res.end(); });
    await assertRefused(clientId, 'down');
    assert.equal(docs.hits.get(path), 1);

    docs.json(path, claudeCodeDocument(clientId), { 'cache-control': `max-age=${FRESH}` });
    await assertRefused(clientId, 'back, but the failure is remembered');
    clock.advance(4.9);
    await assertRefused(clientId, 'still within the few seconds');
    assert.equal(docs.hits.get(path), 1, 'not asked again meanwhile');

    clock.advance(0.1);
    await assertWorks(clientId, 'after 5 seconds');
    assert.equal(docs.hits.get(path), 2);
  });

  test('a document that fetched fine but is now invalid is refused, and its older copy is not served when the host then fails', async () => {
    const { clientId, path } = publish();
    await assertWorks(clientId, 'good');

    clock.advance(FRESH + 1);
    docs.json(path, claudeCodeDocument(clientId, { redirect_uris: ['javascript:alert(1)//'] }), { 'cache-control': `max-age=${FRESH}` });
    await assertRefused(clientId, 'the new document refuses itself');
    docs.handle(path, (_req, res) => { res.statusCode = 404; res.end(); });
    clock.advance(5);
    await assertRefused(clientId, 'the older good copy stays withdrawn');
    assert.equal(staleWarnings('client_id', clientId).length, 0);

    docs.json(path, claudeCodeDocument(clientId));
    clock.advance(5);
    await assertWorks(clientId, 'fixed: seen at once, an invalid document is never served from memory');
  });

  test('a jwks_uri that redirects to a body shaped as a document never answers for a client_id of that URL', async () => {
    // An open redirect on a trusted host: the URL V answers 302 to wherever `to` says.
    docs.handle('/redirect', (req, res) => {
      res.writeHead(302, { location: new URL(req.url!, docs.origin).searchParams.get('to')! }).end();
    });
    count += 1;
    const phish = 'https://127.0.0.1:9/phish';
    const v = `${docs.origin}/redirect?to=${encodeURIComponent(`${docs.origin}/payload-${count}.json`)}`;
    // A JWK Set (`keys`) that is also a client document for V, with the attacker's redirect URI.
    docs.json(`/payload-${count}.json`, { keys: [], client_id: v, client_name: 'Claude', redirect_uris: [phish], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none' });
    const attacker = `${docs.origin}/attacker-${count}.json`;
    docs.json(`/attacker-${count}.json`, {
      client_id: attacker, client_name: 'x', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code'], response_types: ['code'],
      token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'RS256', jwks_uri: v,
    });
    const authorizeAsV = () => new Browser(server.issuer).navigate(authorizeUrl(server.issuer, { clientId: v, redirectUri: phish, scope: 'mcp:read', resource: metadata.resource }, createPkce().challenge));
    assert.equal((await authorizeAsV()).status, 400, 'V is no client document (it answers 302)');
    clock.advance(60);
    // One token request as the attacker's client makes the server fetch its jwks_uri, V, which redirects to the payload.
    const key = await ClientKey.generate('RS256');
    const tokenEndpoint = `${server.issuer}/oauth/token`;
    const token = await fetch(tokenEndpoint, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT_URI, code_verifier: 'a'.repeat(43), ...await key.authParams(attacker, tokenEndpoint) }),
    });
    assert.equal(token.status, 401);
    assert.ok((docs.hits.get(`/payload-${count}.json`) ?? 0) >= 1, 'the payload was fetched as a JWK Set');
    const page = await authorizeAsV();
    assert.equal(page.status, 400, 'still no client: the JWK Set fetched from V is not its client document');
    assert.doesNotMatch(page.html, /name="password"/);
  });

  test("ChatGPT's JWK Set is served from its last good copy too while its host fails", async () => {
    const key = await ClientKey.generate('RS256');
    count += 1;
    const jwksPath = `/oauth/jwks-${count}.json`;
    const jwksUri = docs.json(jwksPath, key.jwks());
    const clientId = `${docs.origin}/oauth/chatgpt-${count}/client.json`;
    docs.json(`/oauth/chatgpt-${count}/client.json`, chatgptDocument(clientId, jwksUri), { 'cache-control': `max-age=${FRESH}` });
    const tokenEndpoint = `${server.issuer}/oauth/token`;
    const flow = await connect(server.issuer, { clientId, redirectUri: CHATGPT_REDIRECT_URI, scope: 'mcp:read', resource: metadata.resource, username: 'admin', password: ADMIN_PASSWORD });
    const tokens = await redeem(server.issuer, { client_id: clientId }, flow, await key.authParams(clientId, tokenEndpoint));
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));

    clock.advance(60);
    docs.handle(jwksPath, (_req, res) => { res.statusCode = 503; res.end(); });
    const refreshed = await refresh(server.issuer, { client_id: clientId }, tokens.body.refresh_token as string, await key.authParams(clientId, tokenEndpoint));
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    const [warning] = staleWarnings('jwks_uri', jwksUri);
    assert.ok(warning, 'logged at warn with the jwks_uri');
    assert.equal(warning.reason, 'status 503');
  });
});
