/**
 * Issue 17, trap 7: a stale sign-in link (its interaction gone, or opened in another browser)
 * says so in plain words, with 400, instead of showing the code `session_not_found`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser } from '../helpers/browser.ts';
import { registerClient, startAuthorization } from '../helpers/oauth-flow.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_RESOURCE } from '../helpers/test-issuer.ts';

const PLAIN_WORDS = 'This sign-in link has expired, or was opened in another browser. Go back to the app you were connecting and start again from there.';

/** The alert paragraph of an error page. */
function alertText(html: string): string | undefined {
  return /<p role="alert">([^<]*)<\/p>/.exec(html)?.[1];
}

describe('stale sign-in links', () => {
  let server: TestAuthServer;
  let interactionPath: string;
  before(async () => {
    server = await startAuthServer();
    const client = await registerClient(server.issuer);
    const { page } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: TEST_RESOURCE });
    interactionPath = new URL(page.url).pathname;
    assert.match(interactionPath, /^\/interaction\/[^/]+$/);
  });
  after(() => server?.close());

  const cases: Array<[string, () => string]> = [
    ['a real sign-in page opened in another browser (no cookie)', () => interactionPath],
    ['a sign-in page whose interaction is gone', () => '/interaction/gone-long-ago'],
    ['the resume link of a gone interaction', () => '/oauth/authorize/gone-long-ago'],
  ];
  for (const [what, path] of cases) {
    test(`${what}: 400 and plain words`, async () => {
      const page = await new Browser(server.issuer).navigate(new URL(path(), server.issuer));
      assert.equal(page.status, 400);
      assert.equal(alertText(page.html), PLAIN_WORDS);
    });
  }
});
