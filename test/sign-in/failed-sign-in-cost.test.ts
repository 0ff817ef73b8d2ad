/**
 * A failed sign-in costs the same bcrypt work whatever hash the username has, or whether it has
 * one: otherwise the time to be refused tells an attacker which usernames exist. An unknown name
 * is compared with a dummy hash at the server's cost (password-hasher.ts); a user's hash may have
 * been written by another tool (a config file's `password_hash`: `$2a$`, PHP's `$2y$`) or at a
 * lower `bcrypt_cost` than today's, or a higher one (the cost lowered since): refused at a lower
 * cost, a mismatch is compared again until it cost as much; at a higher cost, it is replaced at the
 * user's next sign-in by a hash at today's. Work is counted, not timed: the hashing workers add up
 * 2^cost for each bcrypt they run, which is what a bcrypt at that cost takes on either engine.
 * Which engine reads which hash is shown in native-bcrypt.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import bcryptjs from 'bcryptjs';
import { Browser, formAction, inputValue } from '../helpers/browser.ts';
import { authorizeUrl, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const COST = 6;
const PASSWORD = 'the right password';

/** Usernames, and the hash each is stored with: [what, username, hash]. */
const STORED: Array<[string, string, string]> = [
  ['a hash at the server\'s cost', 'current', bcryptjs.hashSync(PASSWORD, COST)],
  ['a hash two costs lower (written before bcrypt_cost was raised)', 'older', bcryptjs.hashSync(PASSWORD, COST - 2)],
  ['the lowest cost bcrypt has', 'oldest', bcryptjs.hashSync(PASSWORD, 4)],
  ['a $2a$ hash (another tool\'s)', 'imported', `$2a$${bcryptjs.hashSync(PASSWORD, COST).slice(4)}`],
  ['a $2y$ hash (PHP\'s password_hash)', 'from-php', `$2y$${bcryptjs.hashSync(PASSWORD, COST).slice(4)}`],
  ['a $2y$ hash of a lower cost', 'old-php', `$2y$${bcryptjs.hashSync(PASSWORD, COST - 1).slice(4)}`],
];
/** A hash refused later than an unknown name until its user signs in once. */
const STRONGER: [string, string, string] = ['a hash of a higher cost (bcrypt_cost lowered since)', 'stronger', bcryptjs.hashSync(PASSWORD, COST + 2)];
/** A config file's user: the file's hash is put back at each start, so it is never replaced. */
const CONFIGURED = { username: 'from-the-file', passwordHash: `$2y$${bcryptjs.hashSync(PASSWORD, COST - 2).slice(4)}` };

describe('the cost of a failed sign-in', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  let ip = 0;
  before(async () => {
    server = await startAuthServer({
      configure(config) {
        config.authServer.bcryptCost = COST;
        config.authServer.trustProxy = true;
        config.authServer.users = [{ ...CONFIGURED, scopes: ['mcp:read'] } as never];
      },
    });
    client = await registerClient(server.issuer);
    for (const [, username, passwordHash] of [...STORED, STRONGER]) await server.auth.users.create({ username, passwordHash, scopes: ['mcp:read'] });
  });
  after(() => server.close());

  /** The bcrypt work the server's hashing workers have done (2^cost per bcrypt). */
  const work = () => server.auth.hasher.stats().reduce((sum, worker) => sum + worker.work, 0);

  /** Signs in from an address of its own (no throttle in the way); the answer's status and the work it cost. */
  async function signIn(username: string, password: string): Promise<{ status: number; html: string; work: number }> {
    const browser = new Browser(server.issuer);
    const page = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: 'http://localhost:4001/mcp' }, createPkce().challenge));
    const before = work();
    ip += 1;
    const answer = await browser.navigate(new URL(formAction(page.html), page.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': `198.51.100.${ip}` },
      body: new URLSearchParams({ csrf: inputValue(page.html, 'csrf')!, username, password }),
    });
    return { status: answer.status, html: answer.html, work: work() - before };
  }

  test('an unknown username costs one bcrypt at the server\'s cost', async () => {
    const unknown = await signIn('nobody-by-this-name', 'a guess');
    assert.equal(unknown.status, 400);
    assert.equal(unknown.work, 2 ** COST);
  });

  const storedHash = async (username: string) => (await server.auth.users.findByUsername(username))!.passwordHash!;

  const refusedAtOnce: Array<[string, string]> = [...STORED.map(([what, username]): [string, string] => [what, username]), ['a config file\'s $2y$ hash of a lower cost', CONFIGURED.username]];
  for (const [what, username] of refusedAtOnce) {
    test(`a wrong password for a user with ${what} costs the same as an unknown username`, async () => {
      const wrong = await signIn(username, 'a guess');
      assert.equal(wrong.status, 400);
      assert.equal(wrong.work, 2 ** COST);
    });
  }

  test(`before its user signs in, ${STRONGER[0]} costs more to refuse`, async () => {
    assert.equal((await signIn(STRONGER[1], 'a guess')).work, 2 ** (COST + 2));
  });

  for (const [what, username, hash] of [...STORED, STRONGER]) {
    test(`the right password for a user with ${what} signs in, and the hash is then the server's: refused at its cost`, async () => {
      const right = await signIn(username, PASSWORD);
      assert.match(right.html, /Allow access/, 'signed in: the consent page');
      const replaced = await storedHash(username);
      if (hash.startsWith(`$2b$0${COST}$`)) assert.equal(replaced, hash, 'a hash at today\'s cost stays as it is');
      else assert.match(replaced, new RegExp(`^\\$2b\\$0${COST}\\$`));
      assert.equal(bcryptjs.compareSync(PASSWORD, replaced), true, 'of the same password');
      assert.equal((await signIn(username, 'a guess')).work, 2 ** COST);
      assert.match((await signIn(username, PASSWORD)).html, /Allow access/, 'and signs in with it');
    });
  }

  test('a config file\'s user keeps the file\'s hash (put back at each start)', async () => {
    assert.match((await signIn(CONFIGURED.username, PASSWORD)).html, /Allow access/);
    assert.equal(await storedHash(CONFIGURED.username), CONFIGURED.passwordHash);
  });
});
