/**
 * Mix-up between upstreams (RFC 9700 §4.4): with several upstreams, one of them malicious, the
 * malicious one forwards the victim to an honest upstream with the attacker's own authorization
 * request (its PKCE challenge and nonce) and the victim's state. Without a redirect URI per
 * upstream, the honest upstream's code comes back to the one shared callback, which redeems it
 * at the malicious upstream's token endpoint; the attacker then finishes its own sign-in with it.
 *
 * Upstreams here: `h1`, an honest oidc-provider that predates RFC 9207 (no `iss`), `h2`, an honest
 * oidc-provider with RFC 9207, and `evil`, a small HTTP server that plays the attacker.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { UpstreamConfig } from '../../apps/shared/config/federated-upstreams.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { Browser, formAction, inputValue, type PageResult } from '../helpers/browser.ts';
import { authorizeUrl, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/start-upstream-idp.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const USERS = Object.fromEntries(['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'ken', 'leo', 'mia', 'nina']
  .map((name) => [`${name}@example.com`, { email: `${name}@example.com`, email_verified: true }]));

/** The attacker's upstream: discovery, an authorize endpoint that forwards the victim, a token endpoint that records codes. */
interface AttackerUpstream {
  issuer: string;
  /** Every code Gatehouse sent to the attacker's token endpoint. */
  codes: string[];
  /** The authorization request the attacker forwards victims to (the victim's state is put in). */
  plant(url: URL): void;
  close(): Promise<void>;
}

async function startAttackerUpstream(): Promise<AttackerUpstream> {
  const codes: string[] = [];
  let planted: URL | undefined;
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    const url = new URL(req.url!, issuer);
    if (url.pathname === '/.well-known/openid-configuration') {
      // Deliberately silent about RFC 9207: Gatehouse cannot demand iss from this upstream.
      return json(res, 200, {
        issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (url.pathname === '/jwks') return json(res, 200, { keys: [] });
    if (url.pathname === '/authorize' && planted) {
      const forward = new URL(planted);
      forward.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: forward.href }).end();
      return undefined;
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      let body = '';
      for await (const chunk of req) body += chunk;
      const code = new URLSearchParams(body).get('code');
      if (code) codes.push(code);
      return json(res, 400, { error: 'invalid_grant' });
    }
    res.writeHead(404).end();
    return undefined;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    codes,
    plant(url) {
      planted = url;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function upstreamEntry(id: string, issuer: string, clientId: string, clientSecret?: string): UpstreamConfig {
  return {
    id, displayName: id.toUpperCase(), issuer, clientId, clientSecret,
    scopes: ['openid', 'email'], allowedDomains: ['example.com'], allowedEmails: [], newUsers: 'allow',
    defaultScopes: ['mcp:read'], adminUsers: [], adminScopes: ['mcp:admin'], timeout: 5,
  };
}

/** Opens our sign-in page and presses "Sign in with <id>"; `stopAt` leaves the redirect to the upstream unfollowed. */
async function chooseUpstream(browser: Browser, server: TestAuthServer, client: RegisteredClient, id: string, stopAt?: (next: URL) => boolean): Promise<PageResult> {
  const signInPage = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
  const action = new RegExp(`action="(/interaction/[^"]+/federated/${id})"`).exec(signInPage.html)?.[1];
  assert.ok(action, `a "Sign in with ${id}" button\n${signInPage.html.slice(0, 300)}`);
  return browser.submit(action, { csrf: inputValue(signInPage.html, 'csrf')! }, signInPage.url, stopAt);
}

/** Signs in on an upstream's development login page and approves there; follows or stops where `stopAt` says. */
async function signInUpstream(browser: Browser, page: PageResult, login: string, stopAt?: (next: URL) => boolean): Promise<PageResult> {
  assert.match(page.url, /\/interaction\//, `expected the upstream login page, got ${page.status} ${page.url}\n${page.html.slice(0, 300)}`);
  let next = await browser.submit(formAction(page.html), { prompt: 'login', login, password: 'anything' }, page.url, stopAt);
  if (/name="prompt" value="consent"/.test(next.html)) next = await browser.submit(formAction(next.html), { prompt: 'consent' }, next.url, stopAt);
  return next;
}

const atOurCallback = (next: URL) => next.pathname.startsWith('/oauth/callback');
const tokenRequests = (idp: UpstreamIdp) => idp.requests.filter((r) => r === 'POST /token').length;

function assertRefused(page: PageResult, message: RegExp) {
  assert.equal(page.status, 400, `${page.status} ${page.url}\n${page.html.slice(0, 500)}`);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/, 'the error page a browser lands on, not an API error');
  assert.match(page.html, message);
  assert.doesNotMatch(page.html, /Allow access\?/, 'no consent, no token');
}

describe('federated sign-in with three upstreams, one of them an attacker (mix-up, RFC 9700 §4.4)', () => {
  let h1: UpstreamIdp;
  let h2: UpstreamIdp;
  let evil: AttackerUpstream;
  let server: TestAuthServer;
  let client: RegisteredClient;
  const logLines: Array<Record<string, unknown>> = [];

  before(async () => {
    h1 = await startUpstreamIdp(USERS, { issParameter: false });
    h2 = await startUpstreamIdp(USERS);
    evil = await startAttackerUpstream();
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    });
    server = await startAuthServer({
      logger: createLogger('auth-server', 'info', sink),
      configure(config) {
        config.authServer.mode = 'both';
        config.authServer.upstreams = [
          upstreamEntry('h1', h1.issuer, h1.clientId, h1.clientSecret),
          upstreamEntry('h2', h2.issuer, h2.clientId, h2.clientSecret),
          upstreamEntry('evil', evil.issuer, 'gatehouse-at-evil'),
        ];
      },
    });
    // The honest upstreams also still list the shared callback of earlier releases, as an
    // operator who upgraded may have left it: the worst case (and what the old code needed).
    await h1.allowClient([`${server.issuer}/oauth/callback/h1`, `${server.issuer}/oauth/callback`]);
    await h2.allowClient([`${server.issuer}/oauth/callback/h2`, `${server.issuer}/oauth/callback`]);
    client = await registerClient(server.issuer);
  });
  after(async () => {
    await server?.close();
    await h1?.close();
    await h2?.close();
    await evil?.close();
  });

  test('says at boot which redirect URI to register at each upstream', () => {
    const told = logLines.filter((l) => l.msg === 'federated sign-in: register this redirect URI at the upstream').map((l) => [l.upstream, l.redirect_uri]);
    assert.deepEqual(told, [['h1', `${server.issuer}/oauth/callback/h1`], ['h2', `${server.issuer}/oauth/callback/h2`], ['evil', `${server.issuer}/oauth/callback/evil`]]);
  });

  const honest: Array<['h1' | 'h2', string, () => UpstreamIdp, string]> = [
    ['h1', 'no RFC 9207', () => h1, 'alice@example.com'],
    ['h2', 'RFC 9207', () => h2, 'bob@example.com'],
  ];
  for (const [id, kind, idp, login] of honest) {
    test(`signs in through ${id} (${kind}) at its own redirect URI`, async () => {
      const browser = new Browser(server.issuer, [idp().issuer]);
      const landed = await signInUpstream(browser, await chooseUpstream(browser, server, client, id), login);
      assert.match(landed.html, /Allow access\?/, `${landed.status} ${landed.url}\n${landed.html.slice(0, 300)}`);
    });
  }

  const attacks: Array<[string, () => UpstreamIdp, string, (planted: URL) => void]> = [
    ['forwards the victim to h1, which sends no iss', () => h1, 'carol@example.com', () => {}],
    ['forwards the victim to h2, which sends iss', () => h2, 'dave@example.com', () => {}],
    ['forwards the victim to h1 with the shared /oauth/callback as redirect URI', () => h1, 'erin@example.com', (planted) => {
      planted.searchParams.set('redirect_uri', `${server.issuer}/oauth/callback`);
    }],
  ];
  for (const [name, target, victimLogin, rewrite] of attacks) {
    test(`the attacker upstream ${name}: no code reaches it, the victim's callback is refused, the attacker cannot finish as the victim`, async () => {
      const honestIdp = target();
      const honestId = honestIdp === h1 ? 'h1' : 'h2';
      const codesBefore = evil.codes.length;
      const redeemedBefore = tokenRequests(honestIdp);

      // The attacker starts its own sign-in with the honest upstream, in its own cookie jar, and
      // keeps the authorization request (its PKCE challenge, nonce and state) without following it.
      const attacker = new Browser(server.issuer);
      const toHonest = await chooseUpstream(attacker, server, client, honestId);
      const planted = new URL(toHonest.url);
      assert.equal(planted.origin, honestIdp.issuer, `${toHonest.status} ${toHonest.url}`);
      const attackerState = planted.searchParams.get('state')!;
      rewrite(planted);
      evil.plant(planted);

      // The victim chooses the attacker's upstream, is forwarded to the honest one and signs in there.
      const victim = new Browser(server.issuer, [h1.issuer, h2.issuer, evil.issuer]);
      const atHonest = await chooseUpstream(victim, server, client, 'evil');
      assert.equal(new URL(atHonest.url).origin, honestIdp.issuer, 'the victim was forwarded to the honest upstream');
      const victimCallback = await signInUpstream(victim, atHonest, victimLogin, atOurCallback);
      const landed = await victim.navigate(victimCallback.url);

      assert.deepEqual(evil.codes.slice(codesBefore), [], "the honest upstream's code never reached the attacker's token endpoint");
      assert.equal(tokenRequests(honestIdp), redeemedBefore, 'no code was redeemed anywhere');
      assertRefused(landed, /different sign-in provider than the one you chose|several sign-in providers/);

      // The attacker tries to finish its own sign-in with whatever code it obtained.
      const stolen = evil.codes.at(-1) ?? 'no-code-reached-the-attacker';
      const finish = new URL(planted.searchParams.get('redirect_uri')!);
      finish.search = new URLSearchParams({ code: stolen, state: attackerState }).toString();
      const attempt = await attacker.navigate(finish);
      assert.equal(attempt.status, 400, `${attempt.status} ${attempt.url}`);
      assert.doesNotMatch(attempt.html, /Allow access\?/);
      assert.equal(await server.auth.users.findByUsername(victimLogin), undefined, 'no session, no account as the victim');
    });
  }

  /** A genuine sign-in through `id`, up to the upstream's redirect back to us, unfollowed. */
  async function callbackFrom(id: 'h1' | 'h2', login: string): Promise<{ browser: Browser; callback: URL }> {
    const idp = id === 'h1' ? h1 : h2;
    const browser = new Browser(server.issuer, [idp.issuer]);
    const page = await signInUpstream(browser, await chooseUpstream(browser, server, client, id), login, atOurCallback);
    const callback = new URL(page.url);
    assert.equal(callback.pathname, `/oauth/callback/${id}`, `${page.status} ${page.url}`);
    assert.equal(callback.searchParams.get('iss'), id === 'h2' ? h2.issuer : null, 'h2 sends iss, h1 does not');
    return { browser, callback };
  }

  const hostile: Array<[string, 'h1' | 'h2', (callback: URL) => void, RegExp]> = [
    ["a response for h2 delivered at h1's redirect URI", 'h2', (u) => { u.pathname = '/oauth/callback/h1'; }, /different sign-in provider than the one you chose/],
    ["a response for h1 delivered at the attacker upstream's redirect URI", 'h1', (u) => { u.pathname = '/oauth/callback/evil'; }, /different sign-in provider than the one you chose/],
    ['a response at a redirect URI of no upstream', 'h2', (u) => { u.pathname = '/oauth/callback/nobody'; }, /different sign-in provider than the one you chose/],
    ['a response at the shared /oauth/callback while several upstreams are configured', 'h2', (u) => { u.pathname = '/oauth/callback'; }, /several sign-in providers.*must register that address/s],
    ['a response without iss from h2, which advertises it (RFC 9207 §2.4)', 'h2', (u) => { u.searchParams.delete('iss'); }, /could not be verified/],
    ["a response from h2 carrying h1's issuer as iss", 'h2', (u) => { u.searchParams.set('iss', h1.issuer); }, /could not be verified/],
    ["a response from h1 (no RFC 9207) carrying the attacker's issuer as iss", 'h1', (u) => { u.searchParams.set('iss', evil.issuer); }, /could not be verified/],
    ["an error response carrying another upstream's iss", 'h2', (u) => { u.search = new URLSearchParams({ error: 'access_denied', state: u.searchParams.get('state')!, iss: evil.issuer }).toString(); }, /could not be verified/],
  ];
  hostile.forEach(([name, id, tamper, message], i) => {
    test(`refuses ${name}, redeems nothing, and the state cannot be replayed on the right path`, async () => {
      const idp = id === 'h1' ? h1 : h2;
      const { browser, callback } = await callbackFrom(id, `${['frank', 'grace', 'heidi', 'ivan', 'judy', 'ken', 'leo', 'mia'][i]}@example.com`);
      const redeemedBefore = tokenRequests(idp);
      const tampered = new URL(callback);
      tamper(tampered);
      assertRefused(await browser.navigate(tampered), message);
      assert.equal(tokenRequests(idp), redeemedBefore, 'refused before any token request');
      assertRefused(await browser.navigate(callback), /does not belong to a sign-in started here \(or it was already used\)/);
      assert.equal(tokenRequests(idp), redeemedBefore);
    });
  });

  test('an upstream answer refused after the redirect is logged with its error code, for the operator', async () => {
    const { browser, callback } = await callbackFrom('h2', 'olga@example.com');
    const tampered = new URL(callback);
    tampered.searchParams.delete('iss');
    assertRefused(await browser.navigate(tampered), /could not be verified/);
    const line = logLines.findLast((l) => l.msg === 'upstream sign-in failed');
    assert.ok(line, 'the refusal is logged');
    const err = line.err as Record<string, unknown>;
    assert.equal(line.upstream, 'h2');
    assert.match(String(err.cause), /"iss"/, `the log says what was wrong: ${JSON.stringify(err)}`);
    assert.match(String(err.code), /^OAUTH_[A-Z_]+$/, `and openid-client's error code: ${JSON.stringify(err)}`);
  });

  test('refuses a replayed state', async () => {
    const { browser, callback } = await callbackFrom('h2', 'nina@example.com');
    assert.match((await browser.navigate(callback)).html, /Allow access\?/);
    assertRefused(await browser.navigate(callback), /already used/);
  });
});

describe('a single upstream and the shared /oauth/callback of earlier releases', () => {
  const cases: Array<[string, boolean, (issuer: string) => string]> = [
    ['legacy_redirect_uri: the upstream registered only /oauth/callback, and sign-in still works', true, (issuer) => `${issuer}/oauth/callback`],
    ['by default the single upstream gets its own /oauth/callback/<id>', false, (issuer) => `${issuer}/oauth/callback/solo`],
  ];
  for (const [name, legacy, registered] of cases) {
    test(name, async () => {
      const idp = await startUpstreamIdp(USERS);
      const server = await startAuthServer({
        configure(config) {
          config.authServer.mode = 'both';
          config.authServer.upstreams = [{ ...upstreamEntry('solo', idp.issuer, idp.clientId, idp.clientSecret), legacyRedirectUri: legacy }];
        },
      });
      try {
        await idp.allowClient(registered(server.issuer));
        const client = await registerClient(server.issuer);
        const browser = new Browser(server.issuer, [idp.issuer]);
        const atCallback = await signInUpstream(browser, await chooseUpstream(browser, server, client, 'solo'), 'alice@example.com', atOurCallback);
        assert.equal(`${new URL(atCallback.url).origin}${new URL(atCallback.url).pathname}`, registered(server.issuer));
        assert.match((await browser.navigate(atCallback.url)).html, /Allow access\?/);
      } finally {
        await server.close();
        await idp.close();
      }
    });
  }
});
