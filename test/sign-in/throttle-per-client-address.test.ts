/**
 * The sign-in throttle counts a client address as the rate limits do (http/client-address-key.ts):
 * an IPv6 /64 is one client, so rotating through the addresses of one's own /64 gets no more
 * guesses than one address; an IPv4-mapped IPv6 address is its IPv4 address. Over HTTP, with the
 * client address given by X-Forwarded-For (trust_proxy), and time moved by the server's clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser, formAction, inputValue, type PageResult } from '../helpers/browser.ts';
import { authorizeUrl, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { TestClock } from '../helpers/test-clock.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const POLICY = { maxFailures: 5, maxFailuresPerIp: 8, slowDownAfter: 100, window: 600, lockDuration: 60 };
const SIGN_IN_FAILED = /Incorrect username or password\./;

for (const backend of TEST_BACKENDS) {
  describe(`sign-in throttle per client address (${backend})`, () => {
    const clock = new TestClock();
    let server: TestAuthServer;
    let client: RegisteredClient;
    before(async () => {
      server = await startAuthServer({
        backend,
        clock,
        configure(config) {
          config.authServer.trustProxy = true;
          config.authServer.signInThrottle = POLICY;
        },
      });
      client = await registerClient(server.issuer);
      await server.auth.users.create({ username: 'victim', passwordHash: await server.auth.hasher.hash('victim-password'), scopes: ['mcp:read'] });
    });
    after(() => server.close());

    async function loginPage(): Promise<{ page: PageResult; browser: Browser }> {
      const browser = new Browser(server.issuer);
      const page = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
      return { page, browser };
    }

    /** Posts the sign-in form as client address `ip`. */
    function signInFrom(browser: Browser, page: PageResult, ip: string, username: string, password: string): Promise<PageResult> {
      return browser.navigate(new URL(formAction(page.html), page.url), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
        body: new URLSearchParams({ csrf: inputValue(page.html, 'csrf')!, username, password }),
      });
    }

    async function signsIn(ip: string, username: string, password: string): Promise<boolean> {
      const { page, browser } = await loginPage();
      const answer = await signInFrom(browser, page, ip, username, password);
      if (SIGN_IN_FAILED.test(answer.html)) return false;
      assert.match(answer.html, /Allow access/, `${ip}: neither refused nor signed in: ${answer.status} ${answer.html.slice(0, 200)}`);
      return true;
    }

    test('failures from 2001:db8::1 … ::6 lock the username for the whole /64, and not for another /64', async () => {
      const { page, browser } = await loginPage();
      for (let i = 1; i <= 6; i += 1) {
        assert.match((await signInFrom(browser, page, `2001:db8::${i}`, 'victim', `guess-${i}`)).html, SIGN_IN_FAILED);
      }
      assert.equal(await signsIn('2001:db8::7', 'victim', 'victim-password'), false, 'the right password from a seventh address of the /64 finds the lock');
      assert.equal(await signsIn('2001:db8:0:0:ffff:ffff:ffff:ffff', 'victim', 'victim-password'), false, 'and from the last address of the /64');
      assert.equal(await signsIn('2001:db8:0:1::1', 'victim', 'victim-password'), true, 'the next /64 is another client');
      clock.advance(POLICY.lockDuration);
      assert.equal(await signsIn('2001:db8::7', 'victim', 'victim-password'), true, 'the lock ends');
    });

    test('a /64 spraying usernames from a new address each time is locked for every username', async () => {
      const { page, browser } = await loginPage();
      for (let i = 1; i <= POLICY.maxFailuresPerIp; i += 1) {
        await signInFrom(browser, page, `2001:db8:5:5::${i.toString(16)}`, `spray-${i}`, 'Password1');
      }
      assert.equal(await signsIn('2001:db8:5:5::abcd', 'admin', ADMIN_PASSWORD), false, 'another address of the /64, another username: locked');
      assert.equal(await signsIn('2001:db8:5:6::1', 'admin', ADMIN_PASSWORD), true, 'another /64 is not');
    });
  });

  describe(`address forms the sign-in throttle counts as one client (${backend})`, () => {
    // [what, the address a wrong password comes from, the address the right one comes from next, whether they are one client]
    const forms: Array<[string, string, string, boolean]> = [
      ['compressed and full forms of one address', '2001:db8:a1::1', '2001:0db8:00a1:0000:0000:0000:0000:0001', true],
      ['upper and lower case', '2001:DB8:A2::1', '2001:db8:a2::1', true],
      ['another interface identifier in the /64', '2001:db8:a3::1', '2001:db8:a3:0:1234:5678:9abc:def0', true],
      ['an address with and without a zone id', 'fe80::a4%eth0', 'fe80::a4', true],
      ['zone ids of one /64', 'fe80:0:0:b::1%eth0', 'fe80:0:0:b::2%wlan0', true],
      ['IPv4-mapped IPv6 and its IPv4 address', '::ffff:192.0.2.1', '192.0.2.1', true],
      ['an IPv4 address and its IPv4-mapped IPv6 form', '192.0.2.2', '::FFFF:192.0.2.2', true],
      ['IPv4-mapped IPv6 in hex and its IPv4 address', '::ffff:c000:203', '192.0.2.3', true],
      ['IPv4-mapped IPv6 written in full', '0:0:0:0:0:ffff:192.0.2.4', '192.0.2.4', true],
      ['neighbouring /64s', '2001:db8:a5:0::1', '2001:db8:a5:1::1', false],
      ['one /64 and the /56 around it', '2001:db8:a6:0::1', '2001:db8:a6:ff::1', false],
      ['neighbouring IPv4 addresses', '192.0.2.5', '192.0.2.6', false],
      ['an IPv4 address and an IPv6 address holding the same bits', '192.0.2.7', '::c000:207', false],
    ];

    let server: TestAuthServer;
    let client: RegisteredClient;
    before(async () => {
      server = await startAuthServer({
        backend,
        clock: new TestClock(),
        configure(config) {
          config.authServer.trustProxy = true;
          // One failure locks the pair, so each case is two requests.
          config.authServer.signInThrottle = { ...POLICY, maxFailures: 1, maxFailuresPerIp: 1000 };
        },
      });
      client = await registerClient(server.issuer);
      // A user per case, so no case finds a lock another one set.
      const passwordHash = await server.auth.hasher.hash('victim-password');
      for (const [i] of forms.entries()) await server.auth.users.create({ username: `victim-${i}`, passwordHash, scopes: ['mcp:read'] });
    });
    after(() => server.close());

    for (const [i, [what, failing, next, same]] of forms.entries()) {
      test(`${what}: ${failing} then ${next} ${same ? 'is one client' : 'are two clients'}`, async () => {
        const browser = new Browser(server.issuer);
        const page = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
        const post = (ip: string, password: string) => browser.navigate(new URL(formAction(page.html), page.url), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
          body: new URLSearchParams({ csrf: inputValue(page.html, 'csrf')!, username: `victim-${i}`, password }),
        });
        assert.match((await post(failing, 'wrong password')).html, SIGN_IN_FAILED);
        const answer = await post(next, 'victim-password');
        if (same) assert.match(answer.html, SIGN_IN_FAILED, `${next} finds the lock ${failing} set`);
        else assert.match(answer.html, /Allow access/, `${next} is not locked by ${failing}`);
      });
    }
  });
}
