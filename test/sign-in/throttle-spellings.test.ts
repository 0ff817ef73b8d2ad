/**
 * Every spelling of a username that signs in as one user is throttled as that user. PostgreSQL
 * compares usernames as lower(username), and in a UTF-8 locale (C.UTF-8 here, most servers'
 * en_US.UTF-8) its lower() folds letters JavaScript's toLowerCase() folds differently:
 * lower('ADMİN') is 'admin', while 'ADMİN'.toLowerCase() is 'admi̇n' (a dotted i: two code
 * points). The throttle counted names as JavaScript folds them, so each such spelling of a real
 * user's name got a count of its own from one client: maxFailures guesses per spelling, up to the
 * per-client cap. A name that finds a user is now counted under that user.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser, formAction, inputValue } from '../helpers/browser.ts';
import { authorizeUrl, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';
import { TestClock } from '../helpers/test-clock.ts';

const POLICY = { maxFailures: 3, maxFailuresPerIp: 50, slowDownAfter: 100, window: 600, lockDuration: 60 };
const PASSWORD = 'the operator password';

for (const backend of TEST_BACKENDS.filter((b) => b === 'postgres')) {
  describe(`sign-in throttle, spellings of one name (${backend}, UTF-8 locale)`, () => {
    let server: TestAuthServer;
    let client: RegisteredClient;
    let ip = 0;
    before(async () => {
      server = await startAuthServer({
        // Held answers wait on this clock, which moves on at once.
        clock: new TestClock(),
        databaseUrl: await createTestPostgresDatabase({ locale: 'C.UTF-8' }),
        configure(config) {
          config.authServer.trustProxy = true;
          config.authServer.signInThrottle = POLICY;
        },
      });
      client = await registerClient(server.issuer);
      await server.auth.users.create({ username: 'admin-kit', passwordHash: await server.auth.hasher.hash(PASSWORD), scopes: ['mcp:read'] });
    });
    after(() => server.close());

    /** Whether signing in as `username` from client address `from` reaches the consent page. */
    async function signsIn(from: string, username: string, password: string): Promise<boolean> {
      const browser = new Browser(server.issuer);
      const page = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: 'http://localhost:4001/mcp' }, createPkce().challenge));
      const answer = await browser.navigate(new URL(formAction(page.html), page.url), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': from },
        body: new URLSearchParams({ csrf: inputValue(page.html, 'csrf')!, username, password }),
      });
      if (/Incorrect username or password\./.test(answer.html)) return false;
      assert.match(answer.html, /Allow access/, `neither refused nor signed in: ${answer.status}`);
      return true;
    }
    const newClient = () => `198.51.100.${(ip += 1)}`;

    /** Spellings of admin-kit: the database finds the user by each; JavaScript folds each apart. */
    const spellings = ['ADMİN-KİT', 'admİn-kit', 'admin-kİt', 'ADMIN-KIT'];

    test('the database finds the user by every spelling (the premise)', async () => {
      for (const spelling of spellings) {
        assert.equal((await server.auth.users.findByUsername(spelling))?.username, 'admin-kit', spelling);
        assert.equal(await signsIn(newClient(), spelling, PASSWORD), true, `${spelling} signs in`);
      }
      assert.equal(new Set(spellings.map((s) => s.toLowerCase())).size, spellings.length, 'JavaScript folds them apart');
    });

    test('failures under different spellings count as one: the lock holds for every spelling', async () => {
      const attacker = newClient();
      for (const spelling of spellings.slice(0, POLICY.maxFailures)) assert.equal(await signsIn(attacker, spelling, 'a guess'), false);
      for (const spelling of [...spellings, 'admin-kit']) {
        assert.equal(await signsIn(attacker, spelling, PASSWORD), false, `${spelling}: locked, even with the right password`);
      }
      assert.equal(await signsIn(newClient(), 'admin-kit', PASSWORD), true, 'from another client the user signs in');
    });
  });
}
