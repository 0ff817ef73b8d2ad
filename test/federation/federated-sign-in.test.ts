import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { UpstreamConfig } from '../../apps/shared/config/federated-upstreams.ts';
import { loadConfig } from '../../apps/shared/config/load-config.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { newUserName } from '../../apps/auth-server/src/federation/federated-accounts.ts';
import { sealForState } from '../../apps/auth-server/src/federation/federated-logins.ts';
import { run as runGatehouse } from '../../apps/auth-server/src/cli/run.ts';
import { CapturedOutput } from '../cli/support/captured-output.ts';
import { Browser, formAction, inputValue, type PageResult } from '../helpers/browser.ts';
import { authorizeUrl, CLAUDE_CALLBACK, decide, redeem, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { freePort } from '../helpers/net.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startUpstreamIdp, type UpstreamIdp, type UpstreamUser } from '../helpers/start-upstream-idp.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';

const RESOURCE = 'http://localhost:4001/mcp';

/** A verified email holding a character that makes it read as another: what it holds, the upstream subject, the email. */
const SPOOFING_EMAILS: Array<[string, string, string]> = [
  ['a right-to-left override', 'spoof-rlo', 'eve\u202Emoc.elpmaxe@ecila\u202C@example.com'],
  ['a right-to-left isolate', 'spoof-rli', 'eve\u2067alice\u2069@example.com'],
  ['a left-to-right mark', 'spoof-lrm', 'eve\u200E@example.com'],
  ['CR LF', 'spoof-crlf', 'eve\r\nalice@example.com'],
  ['an escape sequence', 'spoof-escape', 'eve\u001B[2Kalice@example.com'],
  ['a line separator', 'spoof-line-separator', 'eve\u2028alice@example.com'],
  ['a next-line control (U+0085)', 'spoof-nel', 'eve\u0085alice@example.com'],
  ['an ideographic space', 'spoof-ideographic-space', 'eve\u3000alice@example.com'],
  ['a zero-width space', 'spoof-zero-width-space', 'eve\u200Balice@example.com'],
  ['a soft hyphen', 'spoof-soft-hyphen', 'eve\u00ADalice@example.com'],
];

/** A subject and a verified email that both hold such a character: what they hold, the subject, the email. */
const UNNAMABLE: Array<[string, string, string]> = [
  ['a right-to-left override', 'eve\u202Enimda', 'eve\u202Emoc.elpmaxe@nimda\u202C@example.com'],
  ['a right-to-left isolate', 'eve\u2067admin\u2069', 'eve\u2067admin\u2069@example.com'],
];

/**
 * Subjects that are not text, each with a verified email that could name the user: what they hold,
 * the login typed at the upstream, what it asserts. PostgreSQL stored each lone surrogate as U+FFFD,
 * so the two high ones would share one link (the second signed in as the first's user).
 */
const NOT_TEXT: Array<[string, string, UpstreamUser]> = [
  ['a lone high surrogate at the end', 'lone-high', { sub: 'lone-\ud800', email: 'lone-high@example.com', email_verified: true }],
  ['another lone high surrogate at the same place', 'lone-high-twin', { sub: 'lone-\ud801', email: 'lone-twin@example.com', email_verified: true }],
  ['a lone low surrogate at the start', 'lone-low', { sub: '\udc00lone', email: 'lone-low@example.com', email_verified: true }],
  ['an emoji\'s first half alone', 'lone-emoji', { sub: 'lone-\ud83d-x', email: 'lone-emoji@example.com', email_verified: true }],
  ['a NUL character', 'nul-sub', { sub: 'nul\u0000sub', email: 'nul-sub@example.com', email_verified: true }],
  // Random, so it does not compress: PostgreSQL's btree refused the key (a 500) where SQLite took it.
  ['6,000 characters, past the 255 bytes OIDC allows', 'long-sub', { sub: randomBytes(4500).toString('base64url'), email: 'long-sub@example.com', email_verified: true }],
  ['256 bytes, one past what OIDC allows', 'long-sub-by-one', { sub: 's'.repeat(256), email: 'long-sub-by-one@example.com', email_verified: true }],
];

const LONG_EMAILS = {
  'long-one': `${'a'.repeat(70)}.one@example.com`,
  'long-two': `${'a'.repeat(70)}.two@example.com`,
  'exactly-64': `${'b'.repeat(64 - '@example.com'.length)}@example.com`,
};

const USERS = {
  'alice@example.com': { email: 'alice@example.com', email_verified: true },
  'admin@example.com': { email: 'admin@example.com', email_verified: true },
  'mallory@other.test': { email: 'mallory@other.test', email_verified: true },
  'carol@other.test': { email: 'carol@other.test', email_verified: true },
  'unverified@example.com': { email: 'unverified@example.com', email_verified: false },
  'taken@example.com': { email: 'taken@example.com', email_verified: true },
  'newbie@example.com': { email: 'newbie@example.com', email_verified: true },
  // An upstream account whose subject is an email-shaped name it chose, not its (verified) email.
  'ops@example.com': { email: 'intern@example.com', email_verified: true },
  // One whose subject is the email it asserts, unverified.
  'boss@example.com': { email: 'boss@example.com', email_verified: false },
  // Three people who chose subjects differing only in case (OIDC Core §2: `sub` is case-sensitive).
  'Root': { email: 'root@example.com', email_verified: true },
  'ROOT': { email: 'mallet@example.com', email_verified: true },
  'root': { email: 'eve@example.com', email_verified: true },
  // Verified emails that would read as someone else's on a page, and one that reads as it is.
  ...Object.fromEntries(SPOOFING_EMAILS.map(([, subject, email]) => [subject, { email, email_verified: true }])),
  'plus': { email: 'eve+mcp@example.com', email_verified: true },
  // Emails past the 64 characters a name may hold: two alike in their first 64, one of exactly 64.
  ...Object.fromEntries(Object.entries(LONG_EMAILS).map(([login, email]) => [login, { email, email_verified: true }])),
  // Subjects people chose themselves, which would name the user no better than their email.
  ...Object.fromEntries(UNNAMABLE.map(([, subject, email]) => [subject, { email, email_verified: true }])),
  ...Object.fromEntries(NOT_TEXT.map(([, login, user]) => [login, user])),
};

function upstreamConfig(idp: UpstreamIdp, overrides: Partial<UpstreamConfig> = {}): UpstreamConfig {
  return {
    id: 'test-idp',
    displayName: 'Test IdP',
    issuer: idp.issuer,
    clientId: idp.clientId,
    clientSecret: idp.clientSecret,
    scopes: ['openid', 'email', 'profile'],
    allowedDomains: ['example.com'],
    allowedEmails: ['carol@other.test'],
    newUsers: 'allow',
    defaultScopes: ['mcp:read'],
    adminUsers: ['admin@example.com'],
    adminScopes: ['mcp:read', 'mcp:write', 'mcp:admin'],
    timeout: 5,
    ...overrides,
  };
}

/** Starts Gatehouse with one upstream and a client registered; the upstream is told our callback. */
async function startPair(overrides: Partial<UpstreamConfig> = {}, mode: 'federated' | 'both' = 'both') {
  const idp = await startUpstreamIdp(USERS);
  const server = await startAuthServer({
    configure(config) {
      config.authServer.mode = mode;
      config.authServer.upstreams = [upstreamConfig(idp, overrides)];
    },
  });
  await idp.allowClient(`${server.issuer}/oauth/callback/${overrides.id ?? 'test-idp'}`);
  const client = await registerClient(server.issuer);
  return { idp, server, client };
}

/** How a pending federated sign-in's row is keyed: the SHA-256 of its state. */
const stateKey = (state: string) => createHash('sha256').update(state).digest('base64url');

interface Flow {
  browser: Browser;
  verifier: string;
  page: PageResult;
}

/** Authorize → "Sign in with Test IdP" → the upstream's login page. */
async function toUpstreamLogin(server: TestAuthServer, idp: UpstreamIdp, client: RegisteredClient, scope = 'mcp:read mcp:write'): Promise<Flow> {
  const browser = new Browser(server.issuer, [idp.issuer]);
  const { verifier, challenge } = createPkce();
  const signInPage = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope, resource: RESOURCE }, challenge));
  assert.match(signInPage.html, /Sign in with Test IdP/);
  // The one upstream's button: test-idp, or the id a test configured.
  const action = /action="(\/interaction\/[^"]+\/federated\/[a-z0-9-]+)"/.exec(signInPage.html)![1]!;
  const page = await browser.submit(action, { csrf: inputValue(signInPage.html, 'csrf')! }, signInPage.url);
  return { browser, verifier, page };
}

/** Signs in at the upstream's development login page and approves there; lands back at Gatehouse. */
async function upstreamSignIn(flow: Flow, login: string): Promise<PageResult> {
  assert.match(flow.page.url, /\/interaction\//, `expected the upstream login page, got ${flow.page.status} ${flow.page.url}\n${flow.page.html.slice(0, 300)}`);
  let page = await flow.browser.submit(formAction(flow.page.html), { prompt: 'login', login, password: 'anything' }, flow.page.url);
  if (/name="prompt" value="consent"/.test(page.html)) {
    page = await flow.browser.submit(formAction(page.html), { prompt: 'consent' }, page.url);
  }
  return page;
}

async function tokenFor(server: TestAuthServer, client: RegisteredClient, flow: Flow, consentPage: PageResult) {
  const landed = await decide(flow.browser, consentPage, 'approve');
  assert.ok(landed.url.startsWith(CLAUDE_CALLBACK), landed.url);
  const code = new URL(landed.url).searchParams.get('code')!;
  const tokens = await redeem(server.issuer, client, { code, verifier: flow.verifier, redirectUri: CLAUDE_CALLBACK, callback: new URL(landed.url), browser: flow.browser });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  return decodeJwt(tokens.body.access_token as string);
}

/** A browser signed in as the bootstrap admin with the password form (the sign-in page's second). */
async function adminBrowser(server: TestAuthServer): Promise<Browser> {
  const browser = new Browser(server.issuer);
  const start = await browser.navigate('/admin/users');
  const action = /action="(\/interaction\/[^"]+\/login)"/.exec(start.html)![1]!;
  const page = await browser.submit(action, { csrf: inputValue(start.html, 'csrf')!, username: 'admin', password: ADMIN_PASSWORD }, start.url);
  assert.match(page.html, /<h1>Users<\/h1>/, page.html.slice(0, 500));
  return browser;
}

function assertErrorPage(page: PageResult, status: number, message: RegExp) {
  assert.equal(page.status, status, `${page.status} ${page.url}\n${page.html.slice(0, 500)}`);
  assert.match(page.html, message);
  assert.doesNotMatch(page.html, /name="decision"/, 'no consent, no token');
}

describe('federated sign-in against a real upstream OpenID provider', () => {
  let pair: Awaited<ReturnType<typeof startPair>>;
  before(async () => {
    pair = await startPair();
  });
  after(async () => {
    await pair.server.close();
    await pair.idp.close();
  });

  test('sign in upstream → consent → a token whose sub is the linked local user, the same on the next sign-in', async () => {
    const { server, idp, client } = pair;
    const flow = await toUpstreamLogin(server, idp, client);
    const consent = await upstreamSignIn(flow, 'alice@example.com');
    assert.match(consent.html, /Allow access\?/, consent.html.slice(0, 500));
    const claims = await tokenFor(server, client, flow, consent);
    const alice = (await server.auth.users.findByUsername('alice@example.com'))!;
    assert.equal(claims.sub, alice.id);
    assert.equal(alice.source, 'federated');
    assert.equal(claims.scope, 'mcp:read', 'default_scopes cap the token');

    const again = await toUpstreamLogin(server, idp, client);
    const second = await tokenFor(server, client, again, await upstreamSignIn(again, 'alice@example.com'));
    assert.equal(second.sub, alice.id, 'found by (issuer, subject), not created again');
    assert.equal((await server.auth.users.list()).filter((u) => u.username === 'alice@example.com').length, 1);
  });

  test('the email scope puts the upstream\'s verified email in the ID token, as the consent page says; without the scope it stays out', async () => {
    const { server, idp, client } = pair;
    const idToken = async (scope: string) => {
      const flow = await toUpstreamLogin(server, idp, client, scope);
      const consent = await upstreamSignIn(flow, 'alice@example.com');
      if (scope.includes('email')) assert.match(consent.html, /See your email address/);
      const landed = await decide(flow.browser, consent, 'approve');
      const code = new URL(landed.url).searchParams.get('code')!;
      const tokens = await redeem(server.issuer, client, { code, verifier: flow.verifier, redirectUri: CLAUDE_CALLBACK, callback: new URL(landed.url), browser: flow.browser });
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      return decodeJwt(tokens.body.id_token as string);
    };
    assert.equal((await idToken('openid email mcp:read')).email, 'alice@example.com');
    assert.equal((await idToken('openid mcp:read')).email, undefined);
  });

  test('admin_users get admin_scopes', async () => {
    const { server, idp, client } = pair;
    const flow = await toUpstreamLogin(server, idp, client, 'mcp:read mcp:write mcp:admin');
    const claims = await tokenFor(server, client, flow, await upstreamSignIn(flow, 'admin@example.com'));
    assert.equal(claims.scope, 'mcp:read mcp:write mcp:admin');
  });

  test('an exact email on allowed_emails may enter from another domain', async () => {
    const { server, idp, client } = pair;
    const flow = await toUpstreamLogin(server, idp, client);
    assert.match((await upstreamSignIn(flow, 'carol@other.test')).html, /Allow access\?/);
  });

  const refusals: Array<[string, string, number, RegExp]> = [
    ['an email outside allowed_domains', 'mallory@other.test', 403, /not allowed to sign in here/],
    ['an unverified email', 'unverified@example.com', 403, /email address is not verified at Test IdP/],
    ['an upstream user with no email', 'no-email-user', 403, /did not tell us your email address/],
  ];
  for (const [name, login, status, message] of refusals) {
    test(`refuses ${name}`, async () => {
      const { server, idp, client } = pair;
      const flow = await toUpstreamLogin(server, idp, client);
      assertErrorPage(await upstreamSignIn(flow, login), status, message);
      assert.equal(await server.auth.users.findByUsername(login), undefined, 'no local user is created');
    });
  }

  for (const [what, subject, email] of SPOOFING_EMAILS) {
    test(`an upstream user whose verified email holds ${what} is named <upstream>-<sub>, and the email is neither kept nor listed`, async () => {
      const { server, idp, client } = pair;
      const flow = await toUpstreamLogin(server, idp, client);
      const claims = await tokenFor(server, client, flow, await upstreamSignIn(flow, subject));
      const user = (await server.auth.users.findByUsername(`test-idp-${subject}`))!;
      assert.ok(user, `no user test-idp-${subject}: ${(await server.auth.users.list()).map((u) => JSON.stringify(u.username)).join(' ')}`);
      assert.equal(claims.sub, user.id);
      assert.equal(user.email, null);
      const list = await (await adminBrowser(server)).navigate(`/admin/users?q=${subject}`);
      assert.match(list.html, new RegExp(`>test-idp-${subject}</a>`));
      assert.ok(!list.html.includes(email.slice(3, -12)), 'the email is on no page');
    });
  }

  for (const [what, subject] of UNNAMABLE) {
    test(`refuses a first sign-in whose subject and verified email both hold ${what}, and creates nobody`, async () => {
      const { server, idp, client } = pair;
      const before = (await server.auth.users.list()).length;
      const flow = await toUpstreamLogin(server, idp, client);
      assertErrorPage(await upstreamSignIn(flow, subject), 403, /Your Test IdP account cannot be given a name here: its user id and email address hold characters that would make the name read as someone else(&#39;|')s/);
      assert.equal((await server.auth.users.list()).length, before, 'no local user is created');
    });
  }

  test('an upstream user whose verified email reads as it is stored is still named by it', async () => {
    const { server, idp, client } = pair;
    const flow = await toUpstreamLogin(server, idp, client);
    const claims = await tokenFor(server, client, flow, await upstreamSignIn(flow, 'plus'));
    const user = (await server.auth.users.findByUsername('eve+mcp@example.com'))!;
    assert.equal(claims.sub, user.id);
    assert.equal(user.email, 'eve+mcp@example.com');
  });

  test('emails alike in the 64 characters a name holds name two users, each cut and ending in a tag of its identity; an email of 64 is kept whole', async () => {
    const { server, idp, client } = pair;
    const names: string[] = [];
    for (const login of ['long-one', 'long-two', 'exactly-64'] as const) {
      const flow = await toUpstreamLogin(server, idp, client);
      const consent = await upstreamSignIn(flow, login);
      assert.match(consent.html, /Allow access\?/, `${login}: ${consent.status} ${consent.html.slice(0, 300)}`);
      const user = (await server.auth.users.findById(String((await tokenFor(server, client, flow, consent)).sub)))!;
      assert.equal(user.email, LONG_EMAILS[login], 'the whole email is kept');
      names.push(user.username);
    }
    const [one, two, exact] = names;
    for (const cut of [one, two]) assert.match(cut!, new RegExp(`^${'a'.repeat(51)}-[0-9a-f]{12}$`));
    assert.notEqual(one, two);
    assert.equal(exact, LONG_EMAILS['exactly-64']);
  });

  test('an email that belongs to another local user is not merged', async () => {
    const { server, idp, client } = pair;
    const existing = (await server.auth.users.create({ username: 'taken@example.com', passwordHash: null, scopes: ['mcp:read', 'mcp:admin'] }))!;
    const flow = await toUpstreamLogin(server, idp, client);
    assertErrorPage(await upstreamSignIn(flow, 'taken@example.com'), 409, /already exists here\. An administrator must link/);
    assert.deepEqual((await server.auth.users.findById(existing.id))!.scopes, ['mcp:read', 'mcp:admin'], 'the existing account is untouched');
  });

  test('the user cancelling at the upstream ends on our page with no token', async () => {
    const { server, idp, client } = pair;
    const flow = await toUpstreamLogin(server, idp, client);
    const abort = /href="([^"]+\/abort)"/.exec(flow.page.html)![1]!;
    assertErrorPage(await flow.browser.navigate(new URL(abort, flow.page.url)), 400, /You did not allow the sign-in at Test IdP/);
  });

  /** Runs the flow up to the upstream's redirect back to us and returns that callback URL unfollowed. */
  async function callbackUrl(login: string): Promise<{ flow: Flow; callback: URL }> {
    const { server, idp, client } = pair;
    const flow = await toUpstreamLogin(server, idp, client);
    const atCallback = (next: URL) => next.pathname.startsWith('/oauth/callback');
    let page = await flow.browser.submit(formAction(flow.page.html), { prompt: 'login', login, password: 'x' }, flow.page.url, atCallback);
    if (page.status === 200) page = await flow.browser.submit(formAction(page.html), { prompt: 'consent' }, page.url, atCallback);
    const callback = new URL(page.url);
    assert.equal(callback.pathname, '/oauth/callback/test-idp', `${page.status} ${page.url}`);
    return { flow, callback };
  }

  test('refuses a callback whose state was never issued (or is replayed)', async () => {
    const { flow, callback } = await callbackUrl('alice@example.com');
    const forged = new URL(callback);
    forged.searchParams.set('state', 'not-a-state-we-issued');
    assertErrorPage(await flow.browser.navigate(forged), 400, /does not belong to a sign-in started here/);
    const first = await flow.browser.navigate(callback);
    assert.match(first.html, /Allow access\?/);
    assertErrorPage(await flow.browser.navigate(callback), 400, /does not belong to a sign-in started here/);
  });

  test('stores only a hash of the browser binding, never the cookie value itself', async () => {
    const { flow, callback } = await callbackUrl('alice@example.com');
    const cookie = flow.browser.cookieValue('gatehouse.federated');
    assert.ok(cookie, 'the binding cookie is set');
    const row = await pair.server.auth.database.get<{ browser_binding: string }>('SELECT browser_binding FROM federated_logins WHERE state = ?', [stateKey(callback.searchParams.get('state')!)]);
    assert.ok(row, 'the pending sign-in is stored');
    assert.notEqual(row.browser_binding, cookie);
    assert.ok(!JSON.stringify(await pair.server.auth.database.all('SELECT * FROM federated_logins')).includes(cookie));
    assert.match((await flow.browser.navigate(callback)).html, /Allow access\?/, 'the same browser still finishes');
  });

  test('keeps nothing at rest that would finish the sign-in: no state, PKCE verifier or nonce in plain', async () => {
    const { server, idp, client } = pair;
    const browser = new Browser(server.issuer, [idp.issuer]);
    const signInPage = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
    const action = /action="(\/interaction\/[^"]+\/federated\/test-idp)"/.exec(signInPage.html)![1]!;
    // Stopped at the redirect to the upstream: the authorization request it carries.
    const sent = await browser.submit(action, { csrf: inputValue(signInPage.html, 'csrf')! }, signInPage.url, (next) => next.origin === new URL(idp.issuer).origin);
    const request = new URL(sent.url).searchParams;
    const [state, nonce, challenge] = [request.get('state')!, request.get('nonce')!, request.get('code_challenge')!];
    assert.ok(state && nonce && challenge, sent.url);
    const row = await server.auth.database.get<Record<string, string>>('SELECT * FROM federated_logins WHERE state = ?', [stateKey(state)]);
    assert.ok(row, 'the pending sign-in is stored under the hash of its state');
    const stored = JSON.stringify(row);
    assert.ok(!stored.includes(state), 'the state is not stored');
    assert.ok(!stored.includes(nonce), 'the nonce is not stored in plain');
    assert.notEqual(createHash('sha256').update(row.code_verifier!).digest('base64url'), challenge, 'the verifier is not stored in plain');
    // The sign-in still finishes from there.
    const flow: Flow = { browser, verifier: '', page: await browser.navigate(sent.url) };
    assert.match((await upstreamSignIn(flow, 'alice@example.com')).html, /Allow access\?/);
  });

  test('refuses a callback opened in another browser', async () => {
    const { callback } = await callbackUrl('alice@example.com');
    const other = new Browser(pair.server.issuer);
    assertErrorPage(await other.navigate(callback), 400, /was started in another browser/);
  });

  test('refuses an authorization response with another iss (RFC 9207)', async () => {
    const { flow, callback } = await callbackUrl('alice@example.com');
    assert.equal(callback.searchParams.get('iss'), pair.idp.issuer, 'the upstream sends iss');
    callback.searchParams.set('iss', 'https://evil.example');
    assertErrorPage(await flow.browser.navigate(callback), 400, /could not be verified/);
  });

  test('refuses a callback whose stored sign-in was altered (it does not open), as one it never started', async () => {
    const { flow, callback } = await callbackUrl('alice@example.com');
    const state = callback.searchParams.get('state')!;
    await pair.server.auth.database.run("UPDATE federated_logins SET code_verifier = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' WHERE state = ?", [stateKey(state)]);
    assertErrorPage(await flow.browser.navigate(callback), 400, /does not belong to a sign-in started here/);
  });

  test('refuses an ID token whose nonce is not the one sent', async () => {
    const { flow, callback } = await callbackUrl('alice@example.com');
    const state = callback.searchParams.get('state')!;
    await pair.server.auth.database.run('UPDATE federated_logins SET nonce = ? WHERE state = ?', [sealForState(state, 'nonce', 'another-nonce'), stateKey(state)]);
    assertErrorPage(await flow.browser.navigate(callback), 400, /could not be verified/);
  });
});

describe('federated sign-in: modes, new users and failing upstreams', () => {
  test('mode federated offers only the upstream, and refuses password sign-in', async () => {
    const { server, idp, client } = await startPair({}, 'federated');
    try {
      const browser = new Browser(server.issuer);
      const page = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
      assert.match(page.html, /Sign in with Test IdP/);
      assert.doesNotMatch(page.html, /name="password"/);
      const uid = /\/interaction\/([^/]+)\/federated/.exec(page.html)![1];
      const posted = await browser.submit(`/interaction/${uid}/login`, { csrf: inputValue(page.html, 'csrf')!, username: 'admin', password: 'correct horse battery staple' }, page.url);
      assert.equal(posted.status, 400);
    } finally {
      await server.close();
      await idp.close();
    }
  });

  test('new_users: pending — the first sign-in waits for approval and gets no token until then', async () => {
    const { server, idp, client } = await startPair({ newUsers: 'pending' });
    try {
      let flow = await toUpstreamLogin(server, idp, client);
      assertErrorPage(await upstreamSignIn(flow, 'newbie@example.com'), 403, /waiting for an administrator to approve it/);
      const newbie = (await server.auth.users.findByUsername('newbie@example.com'))!;
      assert.equal(newbie.pending, true);
      await server.auth.users.update(newbie.id, { pending: false });
      flow = await toUpstreamLogin(server, idp, client);
      const claims = await tokenFor(server, client, flow, await upstreamSignIn(flow, 'newbie@example.com'));
      assert.equal(claims.sub, newbie.id);
      flow = await toUpstreamLogin(server, idp, client);
      assert.match((await upstreamSignIn(flow, 'admin@example.com')).html, /Allow access\?/, 'listed admins are not held back');
    } finally {
      await server.close();
      await idp.close();
    }
  });


  test('an admin_users email makes an admin only of the account whose verified email it is, not of an account whose subject spells it', async () => {
    // At upstreams where people pick their own subject (their username: LemonLDAP::NG, Authentik's
    // username mode, Hydra login apps), "ops@example.com" as a subject proves nothing about the email.
    const { server, idp, client } = await startPair({ adminUsers: ['admin@example.com', 'ops@example.com', 'boss@example.com'], allowedDomains: [], allowedEmails: [] });
    try {
      let flow = await toUpstreamLogin(server, idp, client, 'mcp:read mcp:admin');
      const intern = await tokenFor(server, client, flow, await upstreamSignIn(flow, 'ops@example.com'));
      assert.equal(intern.scope, 'mcp:read', 'the subject ops@example.com (email intern@example.com) is not the admin ops@example.com');
      const internUser = (await server.auth.users.findByUsername('intern@example.com'))!;
      assert.ok(internUser && !internUser.scopes.includes('mcp:admin'), `intern@example.com got ${internUser?.scopes.join(' ')}`);

      flow = await toUpstreamLogin(server, idp, client, 'mcp:read mcp:admin');
      const unverified = await tokenFor(server, client, flow, await upstreamSignIn(flow, 'boss@example.com'));
      assert.equal(unverified.scope, 'mcp:read', 'an unverified boss@example.com (also its subject) is not the admin boss@example.com');

      flow = await toUpstreamLogin(server, idp, client, 'mcp:read mcp:admin');
      const admin = await tokenFor(server, client, flow, await upstreamSignIn(flow, 'admin@example.com'));
      assert.equal(admin.scope, 'mcp:read mcp:admin', 'the verified admin@example.com is still an admin');
    } finally {
      await server.close();
      await idp.close();
    }
  });

  test('an admin_users subject makes an admin of that subject exactly, not of one differing in case', async () => {
    // Read through the config file, as an operator writes it.
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-admin-users-'));
    const configFile = join(dir, 'gatehouse.yaml');
    writeFileSync(configFile, 'auth_server:\n  federated:\n    upstream_issuer: https://idp.example.com\n    client_id: x\n    admin_users: [Root, Admin@Example.COM]\n');
    const { adminUsers } = loadConfig({ GATEHOUSE_CONFIG: configFile }, dir).authServer.upstreams[0]!;
    rmSync(dir, { recursive: true, force: true });
    const { server, idp, client } = await startPair({ adminUsers, allowedDomains: [], allowedEmails: [] });
    try {
      for (const [subject, scope] of [['ROOT', 'mcp:read'], ['root', 'mcp:read'], ['Root', 'mcp:read mcp:admin'], ['admin@example.com', 'mcp:read mcp:admin']] as const) {
        const flow = await toUpstreamLogin(server, idp, client, 'mcp:read mcp:admin');
        const token = await tokenFor(server, client, flow, await upstreamSignIn(flow, subject));
        assert.equal(token.scope, scope, `the upstream subject ${subject} (admin_users: Root, Admin@Example.COM)`);
      }
    } finally {
      await server.close();
      await idp.close();
    }
  });

  test('an administrator links a refused first sign-in to the existing account with gatehouse users link, and it then signs in as that account', async () => {
    const { server, idp, client } = await startPair();
    const configFile = join(server.dir, 'gatehouse.yaml');
    writeFileSync(configFile, `auth_server:\n  mode: both\n  federated:\n    id: test-idp\n    upstream_issuer: "${idp.issuer}"\n    client_id: ${idp.clientId}\n    client_secret_env: IDP_SECRET\n`);
    const gatehouse = async (...args: string[]) => {
      const [stdout, stderr] = [new CapturedOutput(), new CapturedOutput()];
      const env = { GATEHOUSE_CONFIG: configFile, DATA_DIR: join(server.dir, 'data'), KEYS_DIR: join(server.dir, 'keys'), IDP_SECRET: idp.clientSecret };
      const code = await runGatehouse(args, { stdin: Readable.from([]), stdout, stderr }, env);
      return { code, out: stdout.text + stderr.text };
    };
    try {
      const existing = (await server.auth.users.create({ username: 'taken@example.com', passwordHash: null, scopes: ['mcp:read', 'mcp:write'] }))!;
      let flow = await toUpstreamLogin(server, idp, client);
      assertErrorPage(await upstreamSignIn(flow, 'taken@example.com'), 409, /An administrator must link/);

      // The refused sign-in's audit entry names what linking needs.
      const audit = await gatehouse('--json', 'audit', 'tail', '--event', 'sign_in.failure');
      const refused = audit.out.trim().split('\n').map((l) => JSON.parse(l) as { details: Record<string, string> }).at(-1)!;
      assert.deepEqual(refused.details, { method: 'federated', reason: 'account_conflict', upstream: 'test-idp', subject: 'taken@example.com', username: 'taken@example.com' });

      const refusals: Array<[string[], number, RegExp]> = [
        [['users', 'link', 'taken@example.com', '--upstream', 'google', '--subject', 'x'], 1, /There is no upstream google; the configured ones are test-idp\./],
        [['users', 'link', 'taken@example.com', '--upstream', 'test-idp', '--subject', 'two words'], 1, /The subject is the upstream's sub claim/],
        [['users', 'link', 'nobody', '--upstream', 'test-idp', '--subject', 'taken@example.com'], 1, /There is no user nobody\./],
        [['users', 'link', 'taken@example.com', '--upstream', 'test-idp'], 2, /--subject/],
        [['users', 'link', 'taken@example.com', '--subject', 'taken@example.com'], 2, /exactly one of --upstream ID/],
      ];
      for (const [args, code, message] of refusals) {
        const result = await gatehouse(...args);
        assert.equal(result.code, code, `${args.join(' ')}: ${result.out}`);
        assert.match(result.out, message, args.join(' '));
      }

      const linked = await gatehouse('users', 'link', 'taken@example.com', '--upstream', 'test-idp', '--subject', 'taken@example.com');
      assert.equal(linked.code, 0, linked.out);
      assert.match(linked.out, /linked test-idp sign-in taken@example.com to taken@example.com/);
      assert.match((await gatehouse('users', 'link', 'taken@example.com', '--upstream', 'test-idp', '--subject', 'taken@example.com')).out, /already linked .*nothing changed/);

      flow = await toUpstreamLogin(server, idp, client);
      const token = await tokenFor(server, client, flow, await upstreamSignIn(flow, 'taken@example.com'));
      assert.equal(token.sub, existing.id, 'the upstream sign-in reaches the existing account');
      assert.equal(token.scope, 'mcp:read mcp:write', "with that account's scopes");

      // An identity linked to someone stays theirs.
      const other = (await server.auth.users.create({ username: 'other', passwordHash: null, scopes: ['mcp:read'] }))!;
      const stolen = await gatehouse('users', 'link', other.username, '--upstream', 'test-idp', '--subject', 'taken@example.com');
      assert.equal(stolen.code, 1, stolen.out);
      assert.match(stolen.out, /already linked to another user .*nothing changed/);
      flow = await toUpstreamLogin(server, idp, client);
      assert.equal((await tokenFor(server, client, flow, await upstreamSignIn(flow, 'taken@example.com'))).sub, existing.id);
    } finally {
      await server.close();
      await idp.close();
    }
  });

  test('an unreachable upstream, a slow one, one whose metadata names another issuer, and one answering over the size cap end on the error page', async () => {
    const silent = createServer(() => {}); // accepts connections, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    // Answers discovery with a document far over the 256 KiB cap (its issuer would even match).
    const huge = createHttpServer((_req, res) => {
      const issuer = `http://127.0.0.1:${(huge.address() as { port: number }).port}`;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer, authorization_endpoint: `${issuer}/auth`, padding: 'x'.repeat(400 * 1024) }));
    });
    await new Promise<void>((resolve) => huge.listen(0, '127.0.0.1', resolve));
    const idp = await startUpstreamIdp(USERS);
    const upstreams = [
      ['unreachable', `http://127.0.0.1:${await freePort()}`],
      ['slow', `http://127.0.0.1:${(silent.address() as { port: number }).port}`],
      ['wrong-issuer', idp.issuer.replace('127.0.0.1', 'localhost')],
      ['oversized', `http://127.0.0.1:${(huge.address() as { port: number }).port}`],
    ] as const;
    const server = await startAuthServer({
      configure(config) {
        config.authServer.mode = 'both';
        config.authServer.upstreams = upstreams.map(([id, issuer]) => ({ ...upstreamConfig(idp, { id, displayName: id, issuer }), timeout: 1 }));
      },
    });
    await idp.allowClient(upstreams.map(([id]) => `${server.issuer}/oauth/callback/${id}`));
    try {
      const client = await registerClient(server.issuer);
      for (const [id] of upstreams) {
        const browser = new Browser(server.issuer);
        const signInPage = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
        const started = Date.now();
        const page = await browser.submit(`${new URL(signInPage.url).pathname}/federated/${id}`.replace(/\/interaction\/([^/]+).*\/federated/, '/interaction/$1/federated'), { csrf: inputValue(signInPage.html, 'csrf')! }, signInPage.url);
        assertErrorPage(page, 502, new RegExp(`could not reach ${id} right now`));
        assert.ok(Date.now() - started < 4000, `${id}: gave up within the timeout`);
      }
    } finally {
      await server.close();
      await idp.close();
      silent.close();
      huge.close();
    }
  });
});

/**
 * Subjects that, behind an upstream whose id is 8 hex digits, would make `<upstream>-<sub>` a name
 * in the form of a user id (a UUID), or only resemble one: the subject, whether it is refused.
 * None has an email, so the name is made of the subject.
 */
const ID_FORM_UPSTREAM = '0f8fad5b';
const ID_FORM_SUBJECTS: Array<[string, boolean]> = [
  ['d9cb-469f-a165-70867728950e', true],
  ['D9CB-469F-A165-70867728950E', true],
  ['d9cb-469f-A165-70867728950e', true],
  ['d9cb-469f-a165-70867728950', false],
  ['d9cb-469f-a165-70867728950e0', false],
  ['d9cb-469f-a165-70867728950g', false],
  ['d9cb469f-a165-70867728950e', false],
];

describe('the name of a new federated user', () => {
  const upstream = { id: 'test-idp', issuer: 'https://idp.example' };
  const victimSub = `victim-${'v'.repeat(60)}`;
  const victimName = newUserName(upstream, victimSub, undefined);

  test('a name of 64 characters is kept whole; a longer one is cut to 51 and tagged with its identity', () => {
    const exact = `${'b'.repeat(52)}@example.com`;
    assert.equal(newUserName(upstream, 'sub-1', exact), exact);
    assert.match(victimName, new RegExp(`^test-idp-victim-v{35}-[0-9a-f]{12}$`));
    assert.notEqual(newUserName(upstream, `${victimSub}2`, undefined), newUserName(upstream, `${victimSub}3`, undefined), 'alike in their first 64 characters');
    assert.notEqual(newUserName({ ...upstream, issuer: 'https://other.example' }, victimSub, undefined), victimName, 'one subject at two issuers');
  });

  test('a subject chosen to spell another identity\'s cut name gets a name of its own', () => {
    const spelled = victimName.slice('test-idp-'.length);
    assert.equal(`test-idp-${spelled}`, victimName);
    const name = newUserName(upstream, spelled, undefined);
    assert.notEqual(name, victimName);
    assert.match(name, /^.{51}-[0-9a-f]{12}$/);
  });
});

describe('an upstream taken out of the config', () => {
  test('the next start warns that the users linked through it keep their sessions and refresh tokens, naming the issuer and how many', async () => {
    const warnings: Array<Record<string, unknown>> = [];
    const logger = createLogger('auth-server', 'warn', { write: (line: string) => warnings.push(JSON.parse(line) as Record<string, unknown>) });
    const idp = await startUpstreamIdp(USERS);
    const server = await startAuthServer({
      logger,
      configure(config) {
        config.authServer.mode = 'both';
        config.authServer.upstreams = [upstreamConfig(idp)];
      },
    });
    try {
      await idp.allowClient(`${server.issuer}/oauth/callback/test-idp`);
      const client = await registerClient(server.issuer);
      for (const login of ['alice@example.com', 'admin@example.com']) {
        const flow = await toUpstreamLogin(server, idp, client);
        await tokenFor(server, client, flow, await upstreamSignIn(flow, login));
      }
      const retiredWarnings = () => warnings.filter((w) => String(w.msg).includes('no longer offers'));
      await server.restart();
      assert.deepEqual(retiredWarnings(), [], 'none while the upstream is offered');

      server.config.authServer.mode = 'builtin';
      await server.restart();
      assert.deepEqual(retiredWarnings().map((w) => [w.issuer, w.upstream, w.users, w.examples]), [[idp.issuer, 'test-idp', 2, ['admin@example.com', 'alice@example.com']]]);

      // Disabled (as the warning suggests), their access has ended: one warned no more. One still
      // waiting for approval never had any (as if new_users: pending had held them).
      await server.auth.admin.users.disable('alice@example.com', { actor: { name: 'test-admin', id: 'test-admin' } });
      await server.auth.database.run('UPDATE users SET pending = 1 WHERE username = ?', ['admin@example.com']);
      warnings.length = 0;
      await server.restart();
      assert.deepEqual(retiredWarnings(), []);
    } finally {
      await server.close();
      await idp.close();
    }
  });
});

describe('federated sign-in names nobody in the form of a user id', () => {
  let pair: Awaited<ReturnType<typeof startPair>>;
  before(async () => {
    pair = await startPair({ id: ID_FORM_UPSTREAM, allowedDomains: [], allowedEmails: [] });
  });
  after(async () => {
    await pair.server.close();
    await pair.idp.close();
  });

  for (const [subject, refused] of ID_FORM_SUBJECTS) {
    const username = `${ID_FORM_UPSTREAM}-${subject}`;
    test(refused
      ? `refuses a first sign-in that would name the user ${username}, with a page saying why, and creates and links nobody`
      : `names the user ${username}, which only resembles a user id`, async () => {
      const { server, idp, client } = pair;
      const flow = await toUpstreamLogin(server, idp, client);
      const page = await upstreamSignIn(flow, subject);
      const linked = await server.auth.database.all('SELECT subject FROM federated_identities WHERE subject = ?', [subject]);
      if (refused) {
        assertErrorPage(page, 403, new RegExp(`Your Test IdP account cannot be given a name here: it would be named ${username}, after its user id at Test IdP, and that has the form of a user id here`));
        assert.equal(await server.auth.users.findByUsername(username), undefined, 'no local user is created');
        assert.deepEqual(linked, [], 'nothing is linked');
      } else {
        const claims = await tokenFor(server, client, flow, page);
        const user = await server.auth.users.findByUsername(username);
        assert.equal(user?.username, username);
        assert.equal(claims.sub, user.id);
      }
    });
  }
});

for (const backend of TEST_BACKENDS) describe(`federated sign-in with an upstream subject that is not text (${backend})`, () => {
  let idp: UpstreamIdp;
  let server: TestAuthServer;
  let client: RegisteredClient;
  before(async () => {
    idp = await startUpstreamIdp(USERS);
    server = await startAuthServer({
      backend,
      configure(config) {
        config.authServer.mode = 'both';
        config.authServer.upstreams = [upstreamConfig(idp)];
      },
    });
    await idp.allowClient(`${server.issuer}/oauth/callback/test-idp`);
    client = await registerClient(server.issuer);
  });
  after(async () => {
    await server?.close();
    await idp?.close();
  });

  for (const [what, login] of NOT_TEXT) {
    test(`refuses a subject holding ${what} with a page saying why, and links and creates nobody`, async () => {
      const flow = await toUpstreamLogin(server, idp, client);
      assertErrorPage(await upstreamSignIn(flow, login), 403, /Your Test IdP account cannot be used here: the user id Test IdP sent for it is not valid text/);
      assert.deepEqual(await server.auth.database.all('SELECT subject FROM federated_identities'), [], 'nothing is linked');
      assert.equal(await server.auth.users.findByUsername(USERS[login as keyof typeof USERS].email!), undefined, 'no local user is created');
    });
  }
});
