/**
 * A sign-in finished before a user's sessions were ended makes no session after it. The sign-in
 * form answers with a redirect to the provider's resume URL, and the provider makes the session
 * only when the browser follows it: an attacker with the old password who kept that redirect and
 * followed it after the administrator's response (a new password; a disable, new password and
 * enable) came out signed in as the user, consented, and got the user's tokens, although the
 * reset had "ended every session" (it found none, the session not existing yet). Reproduced by a
 * review on both backends. Now the sign-in counts as made before the end and is asked again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { Browser, formAction, inputValue, type PageResult } from '../helpers/browser.ts';
import { authorizeUrl, registerClient, signIn, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { waitFor } from '../helpers/wait-for.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };
const OLD = 'victim old password 123';
const NEW = 'victim new password 456';

type Admin = TestAuthServer['auth']['admin'];

/** What an administrator does about a stolen password, each a case. */
const RESPONSES: Array<{ name: string; respond(admin: Admin, username: string): Promise<unknown> }> = [
  { name: 'a new password', respond: (admin, username) => admin.users.setPassword(username, NEW, BY) },
  {
    name: 'disabled, given a new password, enabled again',
    async respond(admin, username) {
      await admin.users.disable(username, BY);
      await admin.users.setPassword(username, NEW, BY);
      await admin.users.enable(username, BY);
    },
  },
];

const isSignInPage = (page: PageResult) => /name="password"/.test(page.html);
const isConsentPage = (page: PageResult) => /name="decision"/.test(page.html);

for (const backend of TEST_BACKENDS) describe(`a sign-in held across the end of a user's sessions (${backend})`, () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  before(async () => {
    server = await startAuthServer({ backend, env: { RESOURCE_URL: RESOURCE } });
    client = await registerClient(server.issuer);
  });
  after(() => server?.close());

  let users = 0;
  /** A new user, and an attacker's browser that signed in as them and kept the redirect to resume. */
  async function heldSignIn(): Promise<{ username: string; browser: Browser; held: PageResult }> {
    const username = `victim${++users}`;
    await server.auth.admin.users.create({ username, password: OLD, scopes: ['mcp:read'] }, BY);
    const browser = new Browser(server.issuer);
    const { challenge } = createPkce();
    const start = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, challenge));
    const held = await browser.submit(formAction(start.html), { csrf: inputValue(start.html, 'csrf')!, username, password: OLD }, start.url, () => true);
    assert.equal(held.status, 303, 'the sign-in form answers with a redirect to resume');
    return { username, browser, held };
  }

  test('without an end in between, the held redirect goes on to consent (what the cases below change)', async () => {
    const { browser, held } = await heldSignIn();
    assert.ok(isConsentPage(await browser.navigate(held.url)));
  });

  for (const { name, respond } of RESPONSES) {
    test(`${name}: the held sign-in is asked again, gets no code, and opens no account page`, async () => {
      const { username, browser, held } = await heldSignIn();
      await respond(server.auth.admin, username);

      const page = await browser.navigate(held.url);
      assert.ok(isSignInPage(page), `expected the sign-in page, got ${page.status} ${page.url}`);
      assert.ok(!isConsentPage(page));
      const account = await browser.request('/account');
      assert.equal(account.status, 303, 'the account page sends the browser to sign in');

      // The old password no longer signs in; the new one finishes the same authorization.
      assert.ok(isSignInPage(await signIn(browser, page, username, OLD)));
      const consent = await signIn(browser, page, username, NEW);
      assert.ok(isConsentPage(consent), 'signed in with the password of now, the flow goes on');
    });
  }

  test('a user who changes their own password keeps the session they made the change from', async () => {
    const { username, browser, held } = await heldSignIn();
    const consent = await browser.navigate(held.url);
    assert.ok(isConsentPage(consent), 'signed in before the change');
    const user = await server.auth.users.findByUsername(username);
    const sessionId = browser.cookieValue('_session');
    assert.ok(user && sessionId);
    await server.auth.admin.users.setPassword(username, NEW, { actor: { name: username, id: user.id }, ip: '127.0.0.1', sessionId });

    const { challenge } = createPkce();
    const again = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, challenge));
    assert.ok(isConsentPage(again), `expected consent without a sign-in, got ${again.status} ${again.url}`);
    assert.equal((await browser.request('/account')).status, 200);
  });
});

/**
 * The same, with the sign-in request itself in flight: it read the user's row (the old hash, no
 * end yet) and was comparing the old password when the reset committed. Timed from when the
 * compare finished, it counted as after the reset (found by the review of this fix).
 */
for (const backend of TEST_BACKENDS) describe(`a sign-in whose password check runs while the password is reset (${backend})`, () => {
  const clock = new TestClock();
  let server: TestAuthServer;
  let client: RegisteredClient;
  before(async () => {
    server = await startAuthServer({ backend, clock, env: { RESOURCE_URL: RESOURCE } });
    client = await registerClient(server.issuer);
  });
  after(() => server?.close());

  test('counts from before the reset: its redirect leads to the sign-in page again', async () => {
    const user = await server.auth.admin.users.create({ username: 'victim', password: OLD, scopes: ['mcp:read'] }, BY);
    // A hash of cost 14 (about four times the server's) holds the compare open while the reset commits.
    await server.auth.users.update(user.id, { passwordHash: await bcrypt.hash(OLD, 14) });
    const browser = new Browser(server.issuer);
    const start = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
    const inFlight = browser.submit(formAction(start.html), { csrf: inputValue(start.html, 'csrf')!, username: 'victim', password: OLD }, start.url, () => true);
    await waitFor('the old password being compared', () => server.auth.hasher.stats().some((worker) => worker.busy));
    await server.auth.admin.users.setPassword('victim', NEW, BY);
    clock.advance(1); // the compare ends in the next second
    const held = await inFlight;
    assert.equal(held.status, 303, 'the old password matched the row read before the reset');
    const page = await browser.navigate(held.url);
    assert.ok(isSignInPage(page) && !isConsentPage(page), `expected the sign-in page, got ${page.status} ${page.url}`);
  });
});
