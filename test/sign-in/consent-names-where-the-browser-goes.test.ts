/**
 * The consent page says where the browser goes after the person decides, and that must be where
 * it really goes. A private-use scheme redirect URI with an authority
 * (`com.evil.app://claude.ai/…`) was shown as "claude.ai", the authority URL parsing reads out of
 * it, with no warning: a client registered by anyone, named "Claude", looked like Claude while its
 * code went to whichever app on the device claims `com.evil.app:`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser } from '../helpers/browser.ts';
import { authorizeUrl, CLAUDE_CALLBACK, CLAUDE_DCR_BODY, decide, registerClient, signIn } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';

const RESOURCE = 'http://localhost:4001/mcp';

const CASES: Array<{ redirectUri: string; shown: string; reason?: RegExp }> = [
  { redirectUri: CLAUDE_CALLBACK, shown: 'sent back to <strong class="host">claude.ai</strong>' },
  { redirectUri: 'http://127.0.0.1:8765/callback', shown: 'sent back to <strong class="host">127.0.0.1:8765</strong>', reason: /an address on your own computer/ },
  {
    redirectUri: 'com.evil.app://claude.ai/api/mcp/auth_callback',
    shown: 'the app on this device that opens <strong class="host">com.evil.app:</strong> links',
    reason: /the app on this device that opens com\.evil\.app: links, and any app can claim those/,
  },
  {
    redirectUri: 'com.example.app:/oauth2redirect',
    shown: 'the app on this device that opens <strong class="host">com.example.app:</strong> links',
    reason: /opens com\.example\.app: links/,
  },
];

describe('the consent page names where the browser is sent back to', () => {
  const clock = new TestClock();
  let server: TestAuthServer;
  before(async () => { server = await startAuthServer({ clock }); });
  after(() => server.close());

  for (const { redirectUri, shown, reason } of CASES) {
    test(redirectUri, async () => {
      // Anonymous DCR: anyone can register any name with such a redirect URI.
      const client = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, client_name: 'Claude', redirect_uris: [redirectUri] });
      // Past the "registered moments ago" reason, so only what the redirect URI says remains.
      clock.advance(11 * 60);
      const browser = new Browser(server.issuer);
      const page = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, redirectUri, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
      const consent = await signIn(browser, page, 'admin', ADMIN_PASSWORD);
      assert.ok(consent.html.includes(shown), `the page should say "${shown}":\n${/<p>After you decide[^\n]*/.exec(consent.html)?.[0]}`);
      const warning = /<div class="warning" role="note" id="consent-warning">[\s\S]*?<\/div>/.exec(consent.html)?.[0];
      if (reason) assert.match(warning ?? '(no warning)', reason);
      else assert.equal(warning, undefined);
      // And that is where the code goes.
      const callback = new URL((await decide(browser, consent, 'approve')).url);
      assert.ok(callback.href.startsWith(`${redirectUri}?`), callback.href);
      assert.ok(callback.searchParams.get('code'));
    });
  }
});
