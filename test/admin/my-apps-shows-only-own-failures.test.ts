/**
 * "My apps" must show the signed-in user's own failed attempts only
 * (management/own-failed-attempts.ts: "no other user's attempt ... can reach the page").
 *
 * A refusal that names no user and no browser flow (an /oauth/authorize refused before any
 * interaction, a token request with an unknown code) joins the latest open attempt of the same
 * client_id (group-connection-attempts.ts rule 3), whoever caused it. With a client_id that
 * several people use (a CIMD URL, one shared registration), someone else's refusal — or one an
 * anonymous stranger sends on purpose, with a redirect_uri of their choosing — becomes the
 * explanation of bob's attempt, shown on bob's "My apps" as bob's own failure.
 *
 * A refused sign-in names the account whose username was typed, whoever typed it: a stranger's
 * wrong password for bob, through a client the stranger registered under a name of their
 * choosing, must not put that name on bob's page as an app that tried to connect as him.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { PageResult } from '../helpers/browser.ts';
import { freePort } from '../helpers/net.ts';
import { authorizeUrl, connect, decide, redeem, signIn, startAuthorization, tokenRequest, CLAUDE_CALLBACK } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { SIGNED_IN_AUTHORIZATION_HINT } from '../../apps/auth-server/src/connections/stall-hints.ts';
import { createUser, signInAt } from './support/admin-browser.ts';
import { registerAs } from './support/failing-connections.ts';

function text(page: PageResult): string {
  return page.html.replace(/<[^>]+>/g, ' ').replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/\s+/g, ' ');
}

describe('My apps shows only the user\'s own failures, not refusals someone else caused on a shared client_id (sqlite)', () => {
  let server: TestAuthServer;
  const clock = TestClock.ahead(0);

  before(async () => {
    const eventsUri = `http://127.0.0.1:${await freePort()}/connections/events`;
    server = await startAuthServer({ backend: 'sqlite', clock, env: { CONNECTION_EVENTS_URI: eventsUri } });
    await createUser(server, 'bob', 'bob password 1234', ['mcp:read']);
    await createUser(server, 'carol', 'carol password 1234', ['mcp:read']);
  });
  after(async () => {
    await server?.close();
  });

  /** bob signs in through a new client named `name` and stops at the consent page; its client_id. */
  async function bobStopsAtConsent(name: string): Promise<string> {
    const shared = (await registerAs(server, name)).client_id;
    const { page, browser } = await startAuthorization(server.issuer, { clientId: shared, scope: 'mcp:read', resource: server.config.authServer.resource });
    const consent = await signIn(browser, page, 'bob', 'bob password 1234');
    assert.match(consent.html, /name="decision"/, 'bob reached the consent page');
    clock.advance(5);
    return shared;
  }

  /** A token request redeeming a code this server never issued (no user can be named), from `userAgent`'s machine. */
  async function unknownCode(clientId: string, userAgent?: string): Promise<void> {
    const refused = await tokenRequest(server.issuer, {
      grant_type: 'authorization_code', client_id: clientId, code: 'not-a-code-of-this-server', code_verifier: createPkce().verifier, redirect_uri: CLAUDE_CALLBACK,
    }, userAgent ? { 'user-agent': userAgent } : {});
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
  }

  /** The "Failed connection attempts" part of bob's /account page (its last part), as text. */
  async function bobsFailures(): Promise<string> {
    await server.auth.connectionRecorder.flush();
    clock.advance(5);
    const words = text((await signInAt(server, 'bob', 'bob password 1234', '/account')).page);
    return words.slice(words.indexOf('Failed connection attempts'));
  }

  test('an anonymous stranger\'s refused authorization request (their own redirect_uri) is not shown as bob\'s failure', async () => {
    const shared = await bobStopsAtConsent('Team Claude');
    // A stranger, not signed in, anywhere: one GET with the shared client_id.
    const lure = 'https://evil.example/gatehouse-account-locked-call-support';
    const wrong = authorizeUrl(server.issuer, { clientId: shared, scope: 'mcp:read', resource: server.config.authServer.resource, redirectUri: lure }, createPkce().challenge);
    assert.equal((await fetch(wrong, { headers: { 'user-agent': 'curl/8' }, redirect: 'manual' })).status, 400);
    const failures = await bobsFailures();
    assert.doesNotMatch(failures, /evil\.example/, `a stranger's refusal is on bob's My apps as bob's failure: ${failures}`);
  });

  test('another party\'s refused token request on the shared client is not shown as bob\'s failure', async () => {
    const shared = await bobStopsAtConsent('Org Cursor');
    await unknownCode(shared, 'Cursor/1.7 (on carol\'s computer)');
    const failures = await bobsFailures();
    assert.doesNotMatch(failures, /Org Cursor/, `another party's refusal is on bob's My apps as bob's failure: ${failures}`);
  });

  /** A stranger registers a client named `lure` and types bob's username with a wrong password through it. */
  async function strangerTypesBobsName(lure: string) {
    const client = await registerAs(server, lure);
    const { page, browser } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: server.config.authServer.resource });
    const refused = await signIn(browser, page, 'bob', 'not bob\'s password');
    assert.equal(refused.status, 400);
    return { browser, refused };
  }

  test('a stranger\'s wrong password for bob, through the stranger\'s own client, is not shown on bob\'s My apps', async () => {
    const lure = 'Gatehouse Security - your account is locked, call +1 555 0100';
    await strangerTypesBobsName(lure);
    const failures = await bobsFailures();
    assert.doesNotMatch(failures, /call \+1 555 0100/, `a stranger's client is on bob's My apps as his app: ${failures}`);
    // The administrator still sees the attempt against bob.
    const { attempts } = await server.auth.connections.list({ accountId: (await server.auth.users.findByUsername('bob'))!.id });
    assert.ok(attempts.some((attempt) => attempt.clientName === lure && attempt.explanation?.reasonCode === 'sign_in_failed'), 'the admin pages list the refused sign-in under bob');
  });

  test('nor when the stranger then signs in as themself in that flow and denies: the attempt is theirs, on their page', async () => {
    const { browser, refused } = await strangerTypesBobsName('Gatehouse Security - your account is locked, call +1 555 0101');
    await decide(browser, await signIn(browser, refused, 'carol', 'carol password 1234'), 'deny');
    const failures = await bobsFailures();
    assert.doesNotMatch(failures, /call \+1 555 0101/, `a stranger's client is on bob's My apps as his app: ${failures}`);
    const words = text((await signInAt(server, 'carol', 'carol password 1234', '/account')).page);
    assert.match(words, /call \+1 555 0101 \S+ \S+ UTC Failed at consent/, 'carol sees her own denial');
  });

  test('a refused token request from where bob\'s own attempt came from is still shown as bob\'s failure', async () => {
    // bob's client, on bob's computer (the same address and user agent as his attempt's steps).
    await unknownCode(await bobStopsAtConsent('Bob Cursor'));
    const failures = await bobsFailures();
    assert.match(failures, /Bob Cursor \S+ \S+ UTC Failed at code exchanged for tokens/, `bob's own refusal is on his My apps: ${failures}`);
  });

  test('links opened in bob\'s signed-in browser (a made-up client_id, a client he never answered) are not on his My apps; a client he approved is', async () => {
    const { browser } = await signInAt(server, 'bob', 'bob password 1234', '/account');
    const resource = server.config.authServer.resource;
    // The client_id itself is the lure: nobody registered it.
    const madeUp = 'Gatehouse Security: your account is locked, call +1 555 0102';
    assert.equal((await browser.navigate(authorizeUrl(server.issuer, { clientId: madeUp, scope: 'mcp:read', resource }, createPkce().challenge))).status, 400);
    // A client registered under the lure: bob is shown its consent page and closes it.
    const named = await registerAs(server, 'IT Helpdesk - reauthorise at helpdesk-gatehouse.example');
    const consent = await browser.navigate(authorizeUrl(server.issuer, { clientId: named.client_id, scope: 'mcp:read', resource }, createPkce().challenge));
    assert.match(consent.html, /name="decision"/, 'bob, signed in, lands on the consent page');
    // bob approves a client of his own in the same browser; its code exchange then fails.
    const own = await registerAs(server, 'Bob Claude');
    const result = await connect(server.issuer, { clientId: own.client_id, scope: 'mcp:read', resource, username: 'bob', password: 'bob password 1234', browser });
    assert.equal((await redeem(server.issuer, own, result)).status, 200);
    assert.equal((await redeem(server.issuer, own, result)).status, 400);
    clock.advance(11 * 60); // past stall_after: the closed consent page is a stalled attempt

    const failures = await bobsFailures();
    assert.doesNotMatch(failures, /call \+1 555 0102/, `a made-up client_id is on bob's My apps as his app: ${failures}`);
    assert.doesNotMatch(failures, /helpdesk-gatehouse\.example/, `a client bob never answered is on his My apps as his app: ${failures}`);
    assert.match(failures, /Bob Claude \S+ \S+ UTC Failed at code exchanged for tokens/, `bob's approved client's failure is on his My apps: ${failures}`);
    // The administrator still sees where the lure stopped, in words that fit a signed-in browser.
    const { attempts } = await server.auth.connections.list({ accountId: (await server.auth.users.findByUsername('bob'))!.id });
    const lure = attempts.find((attempt) => attempt.clientId === named.client_id);
    assert.equal(lure?.explanation?.reason, SIGNED_IN_AUTHORIZATION_HINT);
  });
});
