/**
 * Issue 17, trap 7: a stale sign-in link (its interaction gone, or opened in another browser)
 * says so in plain words, with 400, instead of showing the code `session_not_found`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser } from '../helpers/browser.ts';
import { assertNoStackTrace, decide, registerClient, signIn, startAuthorization } from '../helpers/oauth-flow.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_RESOURCE } from '../helpers/test-issuer.ts';
import { waitFor } from '../helpers/wait-for.ts';

/** bcrypt cost 13 of 'slow password': its check is still running when the test looks. */
const SLOW_HASH = '$2b$13$VI7sS2lY8syJJQ.DZboeHuNxdn.GcXks4BrJeGU.n7v1qhFCPSGNC';

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

  test('Back to the sign-in page of /account after signing in: says no app was being connected, and links /account', async () => {
    await server.auth.users.create({ username: 'back', passwordHash: await server.auth.hasher.hash('back-password'), scopes: ['mcp:read'] });
    const browser = new Browser(server.issuer);
    const signInPage = await browser.navigate('/account');
    assert.match(new URL(signInPage.url).pathname, /^\/interaction\/[^/]+$/);
    const account = await signIn(browser, signInPage, 'back', 'back-password');
    assert.equal(new URL(account.url).pathname, '/account');
    const back = await browser.navigate(signInPage.url);
    assert.equal(back.status, 400);
    assert.equal(alertText(back.html), 'This sign-in to Gatehouse has already finished or has expired. No app was being connected.');
    assert.match(back.html, /<a href="\/account" id="account-link">/);
    // An app's sign-in page, in the same browser, keeps its words.
    const client = await registerClient(server.issuer);
    const { page: appConsent } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: TEST_RESOURCE }, browser);
    await decide(browser, appConsent, 'approve');
    const appBack = await browser.navigate(appConsent.url);
    assert.equal(appBack.status, 400);
    assert.equal(alertText(appBack.html), PLAIN_WORDS);
    assertNoStackTrace(back.html, 'account sign-in');
  });

  // The same sign-in form sent twice (a double click, or the back button and send again): the
  // first submission ends the interaction once its browser goes on, while the second is still
  // checking the password; its answer was the provider's "invalid_request: interaction session
  // not found". Ended here by the test while the password is being checked, as the first
  // submission's resume would.
  test('a sign-in form whose interaction ended while its password was checked: 400 and plain words', async () => {
    await server.auth.users.create({ username: 'twice', passwordHash: SLOW_HASH, scopes: ['mcp:read'] });
    const client = await registerClient(server.issuer);
    const { page, browser } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: TEST_RESOURCE });
    const uid = new URL(page.url).pathname.split('/').pop()!;
    const answer = signIn(browser, page, 'twice', 'slow password');
    await waitFor('the password is being checked', () => server.auth.hasher.stats().some((worker) => worker.busy), 10_000, 5);
    const interaction = await server.auth.provider.Interaction.find(uid);
    assert.ok(interaction, 'the interaction is there while the password is checked');
    await interaction.destroy();
    const failed = await answer;
    assert.equal(failed.status, 400);
    assert.equal(alertText(failed.html), PLAIN_WORDS);
    assertNoStackTrace(failed.html, 'the page');
  });
});
