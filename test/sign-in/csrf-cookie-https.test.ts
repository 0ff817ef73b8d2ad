/**
 * On an https issuer the CSRF cookie and the session cookie carry the `__Host-` prefix (RFC
 * 6265bis §4.1.3.2): Secure, Path=/ and no Domain, so no other host (a sibling subdomain, an http
 * man-in-the-middle) can set or overwrite them; they are signed like on http. Served over real TLS with a throwaway certificate,
 * to a Browser helper that, as browsers do, stores no __Host- cookie without Secure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Agent, setGlobalDispatcher } from 'undici';
import { makeTestCertificate } from '../helpers/document-server.ts';
import { CLAUDE_DCR_BODY, connect, registerClient, startAuthorization } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const RESOURCE = 'http://localhost:4001/mcp';

describe('the CSRF cookie on an https issuer', () => {
  let server: TestAuthServer;
  before(async () => {
    const { key, cert } = makeTestCertificate();
    // This file's process trusts the throwaway certificate for every fetch (the Browser helper's too).
    setGlobalDispatcher(new Agent({ connect: { ca: cert } }));
    server = await startAuthServer({ tls: { key, cert } });
  });
  after(() => server.close());

  test('is named __Host-, Secure, HttpOnly, Path=/, without Domain, and signed', async () => {
    assert.match(server.issuer, /^https:\/\/localhost:\d+$/);
    const client = await registerClient(server.issuer, CLAUDE_DCR_BODY);
    const { page } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE });
    assert.match(page.html, /name="password"/);
    const csrfCookies = page.headers.getSetCookie().filter((line) => line.includes('gatehouse.csrf'));
    assert.deepEqual(csrfCookies.map((line) => line.split('=')[0]), ['__Host-gatehouse.csrf', '__Host-gatehouse.csrf.sig']);
    for (const line of csrfCookies) {
      const attributes = line.split(';').slice(1).map((a) => a.trim().toLowerCase());
      assert.ok(attributes.includes('secure'), line);
      assert.ok(attributes.includes('httponly'), line);
      assert.ok(attributes.includes('path=/'), line);
      assert.ok(!attributes.some((a) => a.startsWith('domain=')), line);
      // Strict, not only Lax: never sent with a cross-site request, a top-level navigation included.
      assert.ok(attributes.includes('samesite=strict'), line);
    }
  });

  test('signing in works with the __Host- cookie', async () => {
    const client = await registerClient(server.issuer, CLAUDE_DCR_BODY);
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    assert.ok(result.code);
    assert.ok(result.browser.hasCookie('__Host-gatehouse.csrf'));
    assert.ok(!result.browser.hasCookie('gatehouse.csrf'));
  });

  test('the session cookie, which says who is signed in, is named __Host- too: no sibling host can plant its own', async () => {
    const client = await registerClient(server.issuer, CLAUDE_DCR_BODY);
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    assert.ok(result.browser.hasCookie('__Host-gatehouse.session'));
    assert.ok(result.browser.hasCookie('__Host-gatehouse.session.sig'));
    assert.ok(!result.browser.hasCookie('_session'), 'no unprefixed session cookie');
    // The session it names is the signed-in one: the account page opens without signing in again.
    const account = await result.browser.navigate('/account');
    assert.equal(account.status, 200, account.html.slice(0, 300));
    assert.doesNotMatch(account.html, /name="password"/);
  });
});
