/**
 * With `untrusted_hosts: warn` (the default), a Client ID Metadata Document on a host this server
 * does not know may list any https redirect URI. An error at /oauth/authorize (prompt=none
 * without a session, a resource we do not serve) used to send the browser there at once, with no
 * page: a link on our origin that lands on any page the document's author chose (RFC 9700
 * §4.11.2). Such errors are now shown on our page, which offers the way back to the app with the
 * error, in the response mode it asked for; a trusted host is still sent its errors at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser, formAction, inputValue, type PageResult } from '../helpers/browser.ts';
import { startDocumentServer, type DocumentServer } from '../helpers/document-server.ts';
import { authorizeUrl } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };

describe('errors for a client whose metadata document is on an unknown host', () => {
  let docs: DocumentServer;
  let server: TestAuthServer;
  let clientId: string;
  let landing: string;
  before(async () => {
    docs = await startDocumentServer();
    server = await startAuthServer({
      metadataFetch: { dangerouslyAllowLoopback: true, ca: docs.ca },
      configure(config) {
        config.authServer.clientIdMetadataDocuments.trustedHosts = ['claude.ai'];
        assert.equal(config.authServer.clientIdMetadataDocuments.untrustedHosts, 'warn', 'the default');
      },
    });
    clientId = `${docs.origin}/phish.json`;
    landing = `${docs.origin}/fake-sign-in`;
    docs.json('/phish.json', {
      client_id: clientId,
      client_name: 'Gatehouse',
      redirect_uris: [landing],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
  });
  after(async () => {
    await server.close();
    await docs.close();
  });

  /** Opens a link to our /oauth/authorize, as a victim would from a mail. */
  function open(extra: Record<string, string>): Promise<PageResult> {
    const url = authorizeUrl(server.issuer, { clientId, redirectUri: landing, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge);
    url.searchParams.set('state', 'state-123');
    for (const [name, value] of Object.entries(extra)) url.searchParams.set(name, value);
    return new Browser(server.issuer).navigate(url);
  }

  function heldOnOurPage(page: PageResult): void {
    assert.equal(page.status, 400, `shown on our page, not sent to ${page.url}`);
    assert.equal(new URL(page.url).origin, new URL(server.issuer).origin);
    assert.match(page.html, new RegExp(`sent back to <strong class="host">${new URL(docs.origin).host}</strong> with this error`));
    assert.match(page.html, /you were not sent there automatically/);
  }

  const cases: Array<[string, Record<string, string>, string]> = [
    ['prompt=none without a session', { prompt: 'none' }, 'login_required'],
    ['a resource this server does not serve', { resource: 'https://elsewhere.example/mcp' }, 'invalid_target'],
  ];
  for (const [what, extra, error] of cases) {
    test(`${what}: shown on our page, with a link back carrying ${error}`, async () => {
      const page = await open(extra);
      heldOnOurPage(page);
      const href = /<a href="([^"]*)" id="continue-to-client">/.exec(page.html)?.[1]?.replaceAll('&amp;', '&');
      assert.ok(href, 'a link back to the app');
      const back = new URL(href);
      assert.equal(`${back.origin}${back.pathname}`, landing);
      assert.equal(back.searchParams.get('error'), error);
      assert.equal(back.searchParams.get('state'), 'state-123');
      assert.equal(back.searchParams.get('iss'), server.issuer);
    });
  }

  test('response_mode=fragment: the link carries the error in the fragment', async () => {
    const page = await open({ prompt: 'none', response_mode: 'fragment' });
    heldOnOurPage(page);
    const href = /<a href="([^"]*)" id="continue-to-client">/.exec(page.html)?.[1]?.replaceAll('&amp;', '&');
    const back = new URL(href!);
    assert.equal(back.search, '');
    const fragment = new URLSearchParams(back.hash.slice(1));
    assert.equal(fragment.get('error'), 'login_required');
    assert.equal(fragment.get('state'), 'state-123');
  });

  test('response_mode=form_post: a form the person submits, not one that submits itself', async () => {
    const page = await open({ prompt: 'none', response_mode: 'form_post' });
    heldOnOurPage(page);
    assert.equal(formAction(page.html), landing);
    assert.equal(inputValue(page.html, 'error'), 'login_required');
    assert.equal(inputValue(page.html, 'state'), 'state-123');
    assert.equal(inputValue(page.html, 'iss'), server.issuer);
    assert.doesNotMatch(page.html, /<script/);
  });

  test('a HEAD request (which the provider serves as it serves a GET) is held too: no Location to the author\'s page', async () => {
    const url = authorizeUrl(server.issuer, { clientId, redirectUri: landing, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge);
    url.searchParams.set('prompt', 'none');
    const response = await fetch(url, { method: 'HEAD', redirect: 'manual' });
    assert.equal(response.status, 400);
    assert.equal(response.headers.get('location'), null);
  });

  test('an unregistered redirect URI is still refused without any way back', async () => {
    const page = await open({ prompt: 'none', redirect_uri: `${docs.origin}/elsewhere` });
    assert.equal(page.status, 400);
    assert.match(page.html, /invalid_redirect_uri/);
    assert.doesNotMatch(page.html, /continue-to-client/);
  });

  test('once an admin trusts the host, its errors go back to it at once', async () => {
    await server.auth.admin.trustedHosts.add(new URL(docs.origin).host, BY);
    try {
      const page = await open({ prompt: 'none' });
      assert.equal(page.status, 303);
      const back = new URL(page.url);
      assert.equal(`${back.origin}${back.pathname}`, landing);
      assert.equal(back.searchParams.get('error'), 'login_required');
    } finally {
      await server.auth.admin.trustedHosts.remove(new URL(docs.origin).host, BY);
    }
  });
});
