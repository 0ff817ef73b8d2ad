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
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { PageResult } from '../helpers/browser.ts';
import { freePort } from '../helpers/net.ts';
import { authorizeUrl, signIn, startAuthorization, tokenRequest, CLAUDE_CALLBACK } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
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

  test('an anonymous stranger\'s refused authorization request (their own redirect_uri) is not shown as bob\'s failure', async () => {
    const resource = server.config.authServer.resource;
    const shared = (await registerAs(server, 'Team Claude')).client_id;
    // bob starts connecting through the shared client and is on the consent page.
    const { page, browser } = await startAuthorization(server.issuer, { clientId: shared, scope: 'mcp:read', resource });
    const consent = await signIn(browser, page, 'bob', 'bob password 1234');
    assert.match(consent.html, /name="decision"/, 'bob reached the consent page');
    clock.advance(5);

    // A stranger, not signed in, anywhere: one GET with the shared client_id.
    const lure = 'https://evil.example/gatehouse-account-locked-call-support';
    const wrong = authorizeUrl(server.issuer, { clientId: shared, scope: 'mcp:read', resource, redirectUri: lure }, createPkce().challenge);
    assert.equal((await fetch(wrong, { headers: { 'user-agent': 'curl/8' }, redirect: 'manual' })).status, 400);
    await server.auth.connectionRecorder.flush();
    clock.advance(5);

    const bob = await signInAt(server, 'bob', 'bob password 1234', '/account');
    const words = text(bob.page);
    assert.doesNotMatch(words, /evil\.example/, `a stranger's refusal is on bob's My apps as bob's failure: ${words.slice(words.indexOf('Failed connection attempts'), words.indexOf('Failed connection attempts') + 400)}`);
  });

  test('another party\'s refused token request on the shared client (carol\'s client, a stranger) is not shown as bob\'s failure', async () => {
    const resource = server.config.authServer.resource;
    const shared = (await registerAs(server, 'Org Cursor')).client_id;
    const { page, browser } = await startAuthorization(server.issuer, { clientId: shared, scope: 'mcp:read', resource });
    await signIn(browser, page, 'bob', 'bob password 1234');
    clock.advance(5);

    // carol's copy of the client redeems a code this server does not know (no user can be named).
    const refused = await tokenRequest(server.issuer, {
      grant_type: 'authorization_code', client_id: shared, code: 'not-a-code-of-this-server', code_verifier: createPkce().verifier, redirect_uri: CLAUDE_CALLBACK,
    }, { 'user-agent': 'Cursor/1.7 (on carol\'s computer)' });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    await server.auth.connectionRecorder.flush();
    clock.advance(5);

    const bob = await signInAt(server, 'bob', 'bob password 1234', '/account');
    const words = text(bob.page);
    const section = words.slice(words.indexOf('Failed connection attempts'), words.indexOf('Failed connection attempts') + 400);
    assert.doesNotMatch(section, /Org Cursor/, `another party's refusal is on bob's My apps as bob's failure: ${section}`);
  });

  test('a refused token request from where bob\'s own attempt came from is still shown as bob\'s failure', async () => {
    const resource = server.config.authServer.resource;
    const shared = (await registerAs(server, 'Bob Cursor')).client_id;
    const { page, browser } = await startAuthorization(server.issuer, { clientId: shared, scope: 'mcp:read', resource });
    await signIn(browser, page, 'bob', 'bob password 1234');
    clock.advance(5);
    // bob's client, on bob's computer (the same address and user agent as his attempt's steps).
    const refused = await tokenRequest(server.issuer, {
      grant_type: 'authorization_code', client_id: shared, code: 'not-a-code-of-this-server', code_verifier: createPkce().verifier, redirect_uri: CLAUDE_CALLBACK,
    });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    await server.auth.connectionRecorder.flush();
    clock.advance(5);

    const bob = await signInAt(server, 'bob', 'bob password 1234', '/account');
    const words = text(bob.page);
    const section = words.slice(words.indexOf('Failed connection attempts'), words.indexOf('Failed connection attempts') + 800);
    assert.match(section, /Bob Cursor \S+ \S+ UTC Failed at code exchanged for tokens/, `bob's own refusal is on his My apps: ${section}`);
  });
});
