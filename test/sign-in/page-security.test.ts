import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PasswordTooLongError } from '../../apps/auth-server/src/accounts/password-hasher.ts';
import { SignInThrottle } from '../../apps/auth-server/src/accounts/sign-in-throttle.ts';
import { readCookieKeys } from '../../apps/auth-server/src/keys/signing-keys.ts';
import { Browser, formAction, inputValue, type PageResult } from '../helpers/browser.ts';
import { decodeJwt } from 'jose';
import { authorizeUrl, CLAUDE_CALLBACK, connect, decide, redeem, registerClient, signIn, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';

const RESOURCE = 'http://localhost:4001/mcp';

function loginPage(server: TestAuthServer, client: RegisteredClient, browser = new Browser(server.issuer)) {
  return browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge)).then((page) => ({ page, browser }));
}

/** Posts the sign-in form as a given client IP (the server trusts X-Forwarded-For in these tests). */
function signInFrom(browser: Browser, page: PageResult, ip: string, username: string, password: string): Promise<PageResult> {
  const body = new URLSearchParams({ csrf: inputValue(page.html, 'csrf')!, username, password });
  return browser.navigate(new URL(formAction(page.html), page.url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
    body,
  });
}

/** The page without what legitimately differs per request (csrf token, interaction id). */
function normalised(html: string): string {
  return html.replace(/name="csrf" value="[^"]+"/, '').replace(/\/interaction\/[\w-]+\//g, '/interaction/UID/');
}

describe('sign-in page security', () => {
  const clock = new TestClock();
  let server: TestAuthServer;
  let client: RegisteredClient;
  before(async () => {
    server = await startAuthServer({
      clock,
      configure(config) {
        config.authServer.trustProxy = true;
        config.authServer.signInThrottle = { maxFailures: 3, maxFailuresPerIp: 8, slowDownAfter: 1, window: 600, lockDuration: 60 };
      },
    });
    client = await registerClient(server.issuer);
    await server.auth.users.create({ username: 'victim', passwordHash: await server.auth.hasher.hash('victim-password'), scopes: ['mcp:read'] });
  });
  after(() => server.close());
  /** bcrypt compares the server's hashing workers have finished. */
  const compares = () => server.auth.hasher.stats().reduce((sum, worker) => sum + worker.served, 0);

  test('every HTML response carries the security headers', async () => {
    const { page } = await loginPage(server, client);
    const errorPage = await fetch(`${server.issuer}/oauth/authorize?client_id=unknown&response_type=code&redirect_uri=https://x.example/cb&code_challenge=abc&code_challenge_method=S256`);
    const expiredInteraction = await fetch(`${server.issuer}/interaction/nope`);
    for (const [name, headers] of [['sign-in', page.headers], ['unknown client', errorPage.headers], ['expired interaction', expiredInteraction.headers]] as const) {
      assert.match(headers.get('content-type') ?? '', /text\/html/, name);
      const csp = headers.get('content-security-policy') ?? '';
      for (const directive of ["default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"]) {
        assert.ok(csp.includes(directive), `${name}: CSP lacks ${directive}: ${csp}`);
      }
      assert.equal(headers.get('x-frame-options'), 'DENY', name);
      assert.equal(headers.get('referrer-policy'), 'no-referrer', name);
      assert.equal(headers.get('x-content-type-options'), 'nosniff', name);
      assert.equal(headers.get('cache-control'), 'no-store', name);
      assert.equal(headers.get('strict-transport-security'), null, `${name}: no HSTS on an http issuer`);
    }
    assert.equal(errorPage.status, 400);
    assert.equal(errorPage.headers.get('location'), null, 'an unknown client is never redirected to');
  });

  test('cookies are HttpOnly and SameSite (and not Secure on an http issuer)', async () => {
    const response = await fetch(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge), { redirect: 'manual' });
    const cookies = response.headers.getSetCookie();
    assert.ok(cookies.length > 0);
    for (const cookie of cookies) {
      assert.match(cookie, /httponly/i, cookie);
      assert.match(cookie, /samesite=(lax|strict)/i, cookie);
      assert.doesNotMatch(cookie, /;\s*secure/i, cookie);
    }
  });

  test('a fresh session id after sign-in (no session fixation)', async () => {
    const browser = new Browser(server.issuer);
    await connect(server.issuer, { browser, clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    const before = browser.cookieHeader(new URL(server.issuer)).match(/_session=([^;]+)/)?.[1];
    assert.ok(before, 'a session cookie after the first sign-in');
    await connect(server.issuer, { browser, clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD, extra: { prompt: 'login' } });
    const afterSignIn = browser.cookieHeader(new URL(server.issuer)).match(/_session=([^;]+)/)?.[1];
    assert.ok(afterSignIn);
    assert.notEqual(afterSignIn, before, 'signing in again issues a new session id');
  });

  test('unknown user and wrong password look the same and each cost one full compare', async () => {
    const { page, browser } = await loginPage(server, client);
    // Compares are counted, not timed: each is a bcrypt at the configured cost (the dummy hash's
    // cost is checked in password-hashing-pool.test.ts), so equal counts mean equal work.
    let unknownPage = '';
    let wrongPage = '';
    for (let i = 0; i < 2; i += 1) {
      const ip = `198.51.100.${10 + i}`;
      let before = compares();
      const unknown = await signInFrom(browser, page, ip, 'no-such-user', 'some password');
      assert.equal(compares() - before, 1, 'an unknown user costs one (dummy) compare');
      before = compares();
      const wrong = await signInFrom(browser, page, `${ip}1`, 'admin', 'some password');
      assert.equal(compares() - before, 1, 'a wrong password costs one compare');
      assert.equal(unknown.status, wrong.status);
      unknownPage = normalised(unknown.html).replace('no-such-user', 'NAME');
      wrongPage = normalised(wrong.html).replace('value="admin"', 'value="NAME"');
    }
    assert.equal(unknownPage, wrongPage, 'the same page for an unknown user and a wrong password');
  });

  test('a locked pair answers exactly like a wrong password, other IPs are unaffected, and the lock ends', async () => {
    const { page, browser } = await loginPage(server, client);
    const attacker = '203.0.113.7';
    let wrong: PageResult | undefined;
    for (let i = 0; i < 3; i += 1) wrong = await signInFrom(browser, page, attacker, 'victim', `guess-${i}`);
    const comparesBefore = compares();
    const locked = await signInFrom(browser, page, attacker, 'victim', 'victim-password');
    assert.equal(compares() - comparesBefore, 1, 'a locked attempt pays for a (dummy) compare like any failure');
    assert.equal(locked.status, wrong!.status);
    assert.equal(normalised(locked.html), normalised(wrong!.html), 'the lock is not revealed');

    const fromElsewhere = await signInFrom(browser, page, '192.0.2.44', 'victim', 'victim-password');
    assert.ok(fromElsewhere.status >= 300 && fromElsewhere.status < 400 || /Allow access/.test(fromElsewhere.html), 'the real user elsewhere still signs in');

    // Held answers move the server's clock too (4 s each while locked): about 45 s in, then 69 s.
    clock.advance(40);
    const { page: during, browser: browser1 } = await loginPage(server, client);
    const stillLocked = await signInFrom(browser1, during, attacker, 'victim', 'victim-password');
    assert.equal(normalised(stillLocked.html), normalised(wrong!.html), 'still locked within lock_duration (60 s)');
    clock.advance(20);
    const { page: again, browser: browser2 } = await loginPage(server, client);
    const afterLock = await signInFrom(browser2, again, attacker, 'victim', 'victim-password');
    assert.match(afterLock.html, /Allow access/, 'the lock ended');
  });

  test('failures slow down before the lock', async () => {
    // The throttle's own view says how long an answer is held; the server holds it on its clock,
    // which a test clock moves on by exactly that (nothing else moves it): no wall-clock timing.
    const throttle = new SignInThrottle(server.auth.database, server.config.authServer.signInThrottle, readCookieKeys(server.config.authServer.keysDir)[0]!, clock);
    const { page, browser } = await loginPage(server, client);
    const ip = '203.0.113.99';
    assert.equal((await throttle.check('slowpoke', ip)).delayMs, 0, 'the first failure is not held');
    await signInFrom(browser, page, ip, 'slowpoke', 'x');
    const hold = (await throttle.check('slowpoke', ip)).delayMs;
    assert.equal(hold, 250, 'after slow_down_after failures, the next answer is held 250 ms');
    const started = clock.now();
    await signInFrom(browser, page, ip, 'slowpoke', 'x');
    assert.equal(clock.now() - started, hold, `the second failure is held back ${hold} ms`);
    assert.equal((await throttle.check('slowpoke', ip)).delayMs, 500, 'and each further failure doubles the hold');
  });

  test('a password typed into the username field is not written to the database', async () => {
    // A common slip (and a password manager filling the wrong field): the secret arrives as the
    // username. The throttle counts the attempt, but a copy of the database must not hold it.
    const typed = 'victim-password-in-the-wrong-field';
    const { page, browser } = await loginPage(server, client);
    const refused = await signInFrom(browser, page, '203.0.113.150', typed, 'victim');
    assert.match(refused.html, /Incorrect username or password\./);
    const file = server.config.authServer.databaseFile;
    const files = ['', '-wal'].filter((suffix) => existsSync(file + suffix)).map((suffix) => readFileSync(file + suffix));
    assert.ok(files.some((bytes) => bytes.includes('203.0.113.150')), 'the attempt was counted (the search finds what is there)');
    for (const bytes of files) assert.ok(!bytes.includes(typed), 'the database files hold what was typed as the username');
    // Still counted per (username, client): the same slip from one client reaches the lock.
    const throttle = new SignInThrottle(server.auth.database, server.config.authServer.signInThrottle, readCookieKeys(server.config.authServer.keysDir)[0]!, clock);
    assert.equal((await throttle.check(typed.toUpperCase(), '203.0.113.150')).delayMs, 250, 'counted under the name, whatever its case');
  });

  test('an IP that sprays many usernames is locked for all of them', async () => {
    const { page, browser } = await loginPage(server, client);
    const ip = '203.0.113.200';
    for (let i = 0; i < 8; i += 1) await signInFrom(browser, page, ip, `spray-${i}`, 'Password1');
    const blocked = await signInFrom(browser, page, ip, 'admin', ADMIN_PASSWORD);
    assert.match(blocked.html, /Incorrect username or password\./);
  });

  test('passwords: no silent truncation at 72 bytes, and oversized forms are refused before hashing', async () => {
    await assert.rejects(server.auth.hasher.hash('x'.repeat(73)), PasswordTooLongError);
    await assert.rejects(server.auth.hasher.hash('é'.repeat(37)), PasswordTooLongError, '72 bytes, not 72 characters');
    const exactly72 = 'p'.repeat(72);
    await server.auth.users.create({ username: 'longpw', passwordHash: await server.auth.hasher.hash(exactly72), scopes: ['mcp:read'] });
    const { page, browser } = await loginPage(server, client);
    const longer = await signInFrom(browser, page, '198.51.100.200', 'longpw', `${exactly72}EXTRA`);
    assert.match(longer.html, /Incorrect username or password\./, 'a longer password whose first 72 bytes match is refused');
    const exact = await signIn(browser, page, 'longpw', exactly72);
    assert.match(exact.html, /Allow access/);

    const { page: page2, browser: browser3 } = await loginPage(server, client);
    const huge = await browser3.navigate(new URL(formAction(page2.html), page2.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: inputValue(page2.html, 'csrf')!, username: 'admin', password: 'x'.repeat(10_000) }),
    });
    assert.equal(huge.status, 413);
    assert.doesNotMatch(huge.html, /at \S+\.ts:\d+/, 'no stack trace');
  });
});

describe('pages on an https issuer', () => {
  test('behind a TLS-terminating proxy: cookies are Secure and HSTS is sent', async () => {
    const server = await startAuthServer({
      configure(config) {
        config.authServer.issuer = 'https://auth.example.test';
        config.authServer.trustProxy = true;
      },
    });
    try {
      const client = await registerClient(`http://127.0.0.1:${new URL(server.issuer).port}`);
      const base = `http://127.0.0.1:${new URL(server.issuer).port}`;
      const response = await fetch(authorizeUrl(base, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge), {
        redirect: 'manual',
        headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'auth.example.test' },
      });
      const cookies = response.headers.getSetCookie();
      assert.ok(cookies.length > 0);
      for (const cookie of cookies) assert.match(cookie, /;\s*secure/i, cookie);
      const page = await fetch(`${base}/interaction/nope`);
      assert.match(page.headers.get('strict-transport-security') ?? '', /max-age=\d+/);
    } finally {
      await server.close();
    }
  });
});

describe('consent page content', () => {
  test('lists identity scopes in words, and scopes the user cannot grant separately', async () => {
    const server = await startAuthServer();
    try {
      const client = await registerClient(server.issuer);
      await server.auth.users.create({ username: 'reader', passwordHash: await server.auth.hasher.hash('reader-password'), scopes: ['mcp:read'] });
      const browser = new Browser(server.issuer);
      const page = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'openid profile mcp:read mcp:write', resource: RESOURCE }, createPkce().challenge));
      const consent = await signIn(browser, page, 'reader', 'reader-password');
      assert.match(consent.html, /Know who you are <code>openid<\/code>/);
      assert.match(consent.html, /See your username <code>profile<\/code>/);
      assert.match(consent.html, /name="scope" value="mcp:read"/);
      assert.doesNotMatch(consent.html, /name="scope" value="mcp:write"/, 'no checkbox for a scope the user cannot grant');
      assert.match(consent.html, /Not available to your account: Use the tools that make changes <code>mcp:write<\/code>\./);
      assert.doesNotMatch(consent.html, /Ask an administrator/, 'Allow is offered: the note informs, it does not send the person away');
    } finally {
      await server.close();
    }
  });
});

describe('consent page: scope words this server does not grant', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  before(async () => {
    server = await startAuthServer();
    client = await registerClient(server.issuer);
    await server.auth.users.create({ username: 'reader', passwordHash: await server.auth.hasher.hash('reader-password'), scopes: ['mcp:read'] });
  });
  after(() => server.close());

  // Any printable ASCII but space, quote and backslash is a scope token (RFC 6749 §3.3); the
  // provider ignores those it does not know, so the page must not offer them as permissions.
  const WORDS: Array<[string, string]> = [
    ['a sentence for the person deciding', 'Approved_by_your_IT_department_-_click_Allow'],
    ["Claude's registered scope", 'claudeai'],
    ['a resource scope this server does not have', 'mcp:delete'],
    ['a known scope in another case', 'OPENID'],
    ['a known scope with a suffix', 'profile2'],
    ['markup', '<b>trusted</b>'],
  ];
  for (const [what, word] of WORDS) {
    test(`${what} (${word}) is neither listed nor granted`, async () => {
      const browser = new Browser(server.issuer);
      const { verifier, challenge } = createPkce();
      const page = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: `openid ${word} mcp:read`, resource: RESOURCE }, challenge));
      const consent = await signIn(browser, page, 'reader', 'reader-password');
      assert.match(consent.html, /Know who you are <code>openid<\/code>/);
      assert.match(consent.html, /name="scope" value="mcp:read"/);
      const main = consent.html.slice(consent.html.indexOf('<main'));
      for (const shown of [word, word.replace(/</g, '&lt;').replace(/>/g, '&gt;')]) assert.ok(!main.includes(shown), `${word} is on the page:\n${main}`);

      const approved = await decide(browser, consent, 'approve');
      const code = new URL(approved.url).searchParams.get('code');
      assert.ok(code, `${approved.status} ${approved.url}`);
      const tokens = await redeem(server.issuer, client, { code, verifier, redirectUri: CLAUDE_CALLBACK, callback: new URL(approved.url), browser });
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      assert.equal(tokens.body.scope, 'mcp:read');
      assert.equal(typeof tokens.body.id_token, 'string', 'openid was granted');
      assert.deepEqual(String(decodeJwt(tokens.body.access_token as string).scope).split(' '), ['mcp:read']);
    });
  }
});

describe('a consent page that can grant nothing new', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer();
    await server.auth.users.create({ username: 'reader', passwordHash: await server.auth.hasher.hash('reader-password'), scopes: ['mcp:read'] });
  });
  after(() => server.close());

  async function consentFor(scope: string, browser = new Browser(server.issuer), client?: RegisteredClient) {
    const registered = client ?? await registerClient(server.issuer);
    const { verifier, challenge } = createPkce();
    let page = await browser.navigate(authorizeUrl(server.issuer, { clientId: registered.client_id, scope, resource: RESOURCE }, challenge));
    if (page.html.includes('name="password"')) page = await signIn(browser, page, 'reader', 'reader-password');
    return { page, browser, client: registered, verifier };
  }

  const approveButton = /<button[^>]*value="approve"[^>]*>([^<]*)</;

  test('shows no Allow button when the account lacks every scope asked for, says which, and the way back denies', async () => {
    for (const scope of ['mcp:write', 'mcp:write mcp:admin', 'openid mcp:admin']) {
      const { page, browser } = await consentFor(scope);
      assert.doesNotMatch(page.html, approveButton, `${scope}: nothing to allow`);
      assert.match(page.html, /Your account cannot give this app: <code>mcp:(write|admin)<\/code>/, scope);
      assert.match(page.html, /Ask an administrator\./, scope);
      assert.match(page.html, /<button[^>]*value="deny"[^>]*>Go back to the app</, scope);
      const back = await decide(browser, page, 'deny');
      assert.equal(new URL(back.url).searchParams.get('error'), 'access_denied', scope);
    }
  });

  test('a forged approve on such a page still grants nothing', async () => {
    const { page, browser } = await consentFor('mcp:write');
    const forged = await decide(browser, page, 'approve');
    assert.equal(new URL(forged.url).searchParams.get('error'), 'access_denied');
  });

  test('with a grant already holding some of the scopes: offers to continue with those, and the token carries only them', async () => {
    const browser = new Browser(server.issuer);
    const first = await consentFor('mcp:read', browser);
    await decide(browser, first.page, 'approve');
    const more = await consentFor('mcp:read mcp:write', browser, first.client);
    assert.equal(more.page.html.match(approveButton)?.[1], 'Continue with what is already allowed');
    assert.match(more.page.html, /Already allowed: .*<code>mcp:read<\/code>/);
    assert.match(more.page.html, /Your account cannot give this app: <code>mcp:write<\/code>\. Ask an administrator\./);
    const callback = await decide(browser, more.page, 'approve');
    const code = new URL(callback.url).searchParams.get('code');
    assert.ok(code, callback.url);
    const tokens = await redeem(server.issuer, more.client, { code, verifier: more.verifier, redirectUri: more.client.redirect_uris[0]!, callback: new URL(callback.url), browser });
    assert.equal(decodeJwt(tokens.body.access_token as string).scope, 'mcp:read');
  });

  test('when something new can be granted, Allow stays, beside the note on what the account lacks', async () => {
    const { page } = await consentFor('mcp:read mcp:write');
    assert.equal(page.html.match(approveButton)?.[1], 'Allow');
    assert.match(page.html, /<p class="note" id="unavailable-scopes" role="note">Not available to your account: Use the tools that make changes <code>mcp:write<\/code>\.<\/p>/);
    assert.doesNotMatch(page.html, /Ask an administrator|cannot give this app/);
  });
});

describe('returning users', () => {
  test('are not asked again for what they granted, but are asked for more', async () => {
    const server = await startAuthServer();
    try {
      const client = await registerClient(server.issuer);
      const browser = new Browser(server.issuer);
      await connect(server.issuer, { browser, clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });

      const again = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
      assert.ok(again.status >= 300 && again.status < 400, `straight back to the client, got ${again.status}`);
      assert.ok(new URL(again.url).searchParams.get('code'));

      const more = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read mcp:write', resource: RESOURCE }, createPkce().challenge));
      assert.match(more.html, /Allow access\?/, 'asked again for the added scope');
      assert.match(more.html, /name="scope" value="mcp:write"/);
      assert.doesNotMatch(more.html, /name="scope" value="mcp:read"/, 'only what is new is asked');
    } finally {
      await server.close();
    }
  });
});

/** Koa's signed-cookie signature (keygrip: HMAC-SHA1 of `name=value`, base64url). */
function cookieSignature(key: string, name: string, value: string): string {
  return createHmac('sha1', key).update(`${name}=${value}`).digest('base64url');
}

describe('CSRF refusals', () => {
  // The sign-in form is posted with the page's own token and the browser's cookies, with only the
  // CSRF cookie pair tampered with. Only a cookie signed with the server's cookie key passes.
  const COOKIE = 'gatehouse.csrf';
  const SIG = `${COOKIE}.sig`;
  const cases: Array<[string, (pairs: Map<string, string>, serverKey: string) => void, 'accepted' | 'refused']> = [
    ['the cookie as set', () => {}, 'accepted'],
    ['the cookie re-signed with the server key', (pairs, key) => pairs.set(SIG, cookieSignature(key, COOKIE, pairs.get(COOKIE)!)), 'accepted'],
    ['an unsigned cookie', (pairs) => pairs.delete(SIG), 'refused'],
    ['an empty signature', (pairs) => pairs.set(SIG, ''), 'refused'],
    ['a cookie signed with another key', (pairs) => pairs.set(SIG, cookieSignature('not-the-server-key', COOKIE, pairs.get(COOKIE)!)), 'refused'],
    ['a signature taken from another cookie', (pairs) => pairs.set(SIG, pairs.get('_interaction.sig')!), 'refused'],
    ['a changed value under the old signature', (pairs) => pairs.set(COOKIE, `${pairs.get(COOKIE)!.slice(0, -1)}${pairs.get(COOKIE)!.endsWith('A') ? 'B' : 'A'}`), 'refused'],
  ];

  test('a tampered, unsigned or foreign-signed CSRF cookie is refused', async () => {
    const server = await startAuthServer();
    try {
      const client = await registerClient(server.issuer);
      const serverKey = (JSON.parse(readFileSync(join(server.config.authServer.keysDir, 'cookie-keys.json'), 'utf8')) as { keys: string[] }).keys[0]!;
      for (const [what, tamper, expected] of cases) {
        const { page, browser } = await loginPage(server, client);
        const action = new URL(formAction(page.html), page.url);
        const pairs = new Map(browser.cookieHeader(action).split('; ').map((pair) => {
          const eq = pair.indexOf('=');
          return [pair.slice(0, eq), pair.slice(eq + 1)] as [string, string];
        }));
        assert.ok(pairs.has(COOKIE) && pairs.has(SIG), `the page set a signed CSRF cookie: ${[...pairs.keys()].join(', ')}`);
        tamper(pairs, serverKey);
        const response = await fetch(action, {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: [...pairs].map(([k, v]) => `${k}=${v}`).join('; ') },
          body: new URLSearchParams({ csrf: inputValue(page.html, 'csrf')!, username: 'admin', password: ADMIN_PASSWORD }),
        });
        const text = await response.text();
        if (expected === 'accepted') {
          assert.ok(response.status >= 300 && response.status < 400, `${what}: expected the sign-in to go on, got ${response.status} ${text.slice(0, 200)}`);
        } else {
          assert.equal(response.status, 403, `${what}: ${text.slice(0, 200)}`);
          assert.match(text, /The form expired or was not sent from this site/, what);
        }
      }
    } finally {
      await server.close();
    }
  });

  test('a form posted without its token is refused with a message that says why', async () => {
    const server = await startAuthServer();
    try {
      const client = await registerClient(server.issuer);
      const { page, browser } = await loginPage(server, client);
      const refused = await browser.submit(formAction(page.html), { username: 'admin', password: ADMIN_PASSWORD }, page.url);
      assert.equal(refused.status, 403);
      assert.match(refused.html, /The form expired or was not sent from this site/);
    } finally {
      await server.close();
    }
  });
});
