/**
 * The `client_document` step (issue 18): a Client ID Metadata Document used for an authorization
 * request is recorded ok before the authorization; a refused one is recorded with why (the
 * document missing, a client_id that differs, an untrusted host), and the browser gets the same
 * error page as before. The document is Claude Code's, as published at
 * https://claude.ai/oauth/claude-code-client-metadata (test/registration/support/).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser } from '../helpers/browser.ts';
import { CapturedConnectionEvents } from '../helpers/capture-connection-events.ts';
import { startDocumentServer, type DocumentServer } from '../helpers/document-server.ts';
import { authorizeUrl } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { claudeCodeDocument } from '../registration/support/claude-code-document.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const CALLBACK = 'http://localhost:54321/callback';

describe('the client_document step', () => {
  let docs: DocumentServer;
  let server: TestAuthServer;
  const recorded = new CapturedConnectionEvents();
  before(async () => {
    docs = await startDocumentServer();
    server = await startAuthServer({
      connectionRecorder: recorded,
      metadataFetch: { dangerouslyAllowLoopback: true, ca: docs.ca },
      configure(config) {
        // localhost:1: a trusted host where nothing listens.
        config.authServer.clientIdMetadataDocuments.trustedHosts = [new URL(docs.origin).host, 'localhost:1'];
        config.authServer.clientIdMetadataDocuments.untrustedHosts = 'refuse';
      },
    });
  });
  after(async () => {
    await server.close();
    await docs.close();
  });

  async function open(clientId: string) {
    recorded.clear();
    const browser = new Browser(server.issuer);
    return browser.navigate(authorizeUrl(server.issuer, { clientId, redirectUri: CALLBACK, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
  }

  test('a document used for an authorization is recorded ok, then the authorization', async () => {
    const url = `${docs.origin}/oauth/claude-code-client-metadata`;
    docs.json('/oauth/claude-code-client-metadata', claudeCodeDocument(url));
    const page = await open(url);
    assert.match(page.html, /name="password"/);
    assert.deepEqual(recorded.events.map((e) => `${e.step} ${e.outcome}`), ['client_document ok', 'authorization ok']);
    assert.equal(recorded.only('client_document').clientId, url);
    assert.equal(recorded.only('client_document').flowId, recorded.only('authorization').flowId);
  });

  const refused: Array<{ name: string; serve: (url: string) => void; path: string; host?: string; reason: RegExp }> = [
    { name: 'a document that is not there (404)', path: '/missing.json', serve: () => {}, reason: /could not be fetched \(unexpected response status 404\)/ },
    {
      name: 'a document whose client_id is another URL',
      path: '/other-id.json',
      serve: (url) => docs.json('/other-id.json', claudeCodeDocument(`${url}-not-this`)),
      reason: /client_id does not match/,
    },
    // undici says only "fetch failed"; the reason carries its cause.
    { name: 'a document on a host that does not answer', path: '/down.json', host: 'https://localhost:1', serve: () => {}, reason: /could not be fetched \(fetch failed: .+\)/ },
    { name: 'a document on a host this server does not trust', path: '/untrusted.json', host: 'https://untrusted.example', serve: () => {}, reason: /does not fetch client documents from `untrusted\.example`/ },
  ];
  for (const c of refused) {
    test(`${c.name}: the same error page as before, recorded as client_document_refused`, async () => {
      const url = `${c.host ?? docs.origin}${c.path}`;
      c.serve(url);
      const page = await open(url);
      assert.equal(page.status, 400);
      assert.equal(page.headers.get('location'), null);
      const event = recorded.only('client_document');
      assert.equal(event.outcome, 'refused');
      assert.equal(event.reasonCode, 'client_document_refused');
      assert.match(event.reason!, new RegExp(`the client metadata document \`${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\` was refused`));
      assert.match(event.reason!, c.reason);
      assert.equal(recorded.of('authorization').length, 0, 'the refusal is the document\'s, not also the authorization\'s');
    });
  }
});
