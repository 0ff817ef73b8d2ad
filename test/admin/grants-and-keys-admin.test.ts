/**
 * Connected apps (all grants, and each user's own page), signing keys (rotate and retire while
 * the server runs), the audit log page and sign-out, over HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { Browser, type PageResult } from '../helpers/browser.ts';
import { authorizeUrl, decide, redeem, refresh, registerClient, signIn, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ID_TOKEN_TTL } from '../../apps/auth-server/src/provider/create-provider.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { auditEvents, connectAs, createUser, csrfOf, grantIdOf, post, RESOURCE, rotateFrom, signInAt } from './support/admin-browser.ts';

for (const backend of TEST_BACKENDS) describe(`admin pages: connected apps, keys, audit log (${backend})`, () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  let admin: { browser: Browser; page: PageResult };

  before(async () => {
    server = await startAuthServer({ backend });
    client = await registerClient(server.issuer, {
      client_name: 'Claude <img src=x onerror=alert(1)>',
      redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
    });
    await createUser(server, 'jo', 'jo password 1234', ['mcp:read', 'mcp:write']);
    await createUser(server, 'kim', 'kim password 1234', ['mcp:read']);
    admin = await signInAt(server, 'admin', ADMIN_PASSWORD);
  });
  after(async () => {
    await server?.close();
  });

  async function publishedKeys(): Promise<JSONWebKeySet> {
    return await (await fetch(`${server.issuer}/oauth/jwks`)).json() as JSONWebKeySet;
  }

  async function verifies(token: string): Promise<boolean> {
    try {
      await jwtVerify(token, createLocalJWKSet(await publishedKeys()), { issuer: server.issuer, audience: RESOURCE, typ: 'at+jwt' });
      return true;
    } catch {
      return false;
    }
  }

  test('all grants are listed with user, app, scopes and last refresh; revoking one stops its refresh token at once', async () => {
    const jo = await connectAs(server, client, 'jo', 'jo password 1234', 'mcp:read mcp:write');
    const refreshed = await refresh(server.issuer, client, jo.refreshToken);
    assert.equal(refreshed.status, 200);
    const kim = await connectAs(server, client, 'kim', 'kim password 1234');

    const page = await admin.browser.navigate('/admin/grants');
    assert.match(page.html, /Claude &lt;img src=x onerror=alert\(1\)&gt;/, 'the client name is escaped');
    assert.doesNotMatch(page.html, /<img/);
    assert.match(page.html, /refuses its access tokens within seconds/, 'the page says what revocation does at the MCP server (test/revocation shows it)');
    assert.match(page.html, /at most 60 minutes/);
    const joGrant = (await server.auth.admin.grants.find(await grantIdOf(server, jo.refreshToken)))!;
    assert.deepEqual(joGrant.scopes.sort(), ['mcp:read', 'mcp:write']);
    assert.ok(joGrant.lastRefreshAt, 'the refresh is seen');
    const joRow = page.html.slice(page.html.indexOf(`value="${joGrant.grantId}"`) - 900, page.html.indexOf(`value="${joGrant.grantId}"`));
    assert.match(joRow, />jo<\/a>/);
    assert.match(joRow, /UTC<\/td>\s*<td><form/, 'a last-refresh time is shown');

    const filtered = await admin.browser.navigate('/admin/grants?user=kim');
    assert.doesNotMatch(filtered.html, new RegExp(joGrant.grantId));

    const after = await post(admin.browser, page, '/admin/grants/revoke', { grant_id: joGrant.grantId });
    assert.match(after.html, /Access was revoked/);
    const denied = await refresh(server.issuer, client, refreshed.body.refresh_token as string);
    assert.equal(denied.status, 400);
    assert.equal(denied.body.error, 'invalid_grant');
    assert.equal((await refresh(server.issuer, client, kim.refreshToken)).status, 200, 'other grants are untouched');
    assert.equal((await auditEvents(server, 'grant.revoked'))[0]!.details.grant_id, joGrant.grantId);
  });

  // A typo in the filter: the list page again (navigation, the form), 400, the message by its field, the input kept.
  const filterTypos: Array<[string, string, 'user' | 'client', RegExp]> = [
    ['an unknown user', 'user=nobody', 'user', /There is no user nobody\./],
    ['an unknown user with a known client', 'user=nobody&client=gatehouse', 'user', /There is no user nobody\./],
    ['a username longer than any', `user=${'k'.repeat(300)}`, 'user', /A username has at most 256 characters\./],
    ['a client id longer than any', `client=${'c'.repeat(3000)}`, 'client', /A client id has at most 2048 characters\./],
  ];
  for (const [what, query, field, message] of filterTypos) {
    test(`grants filtered by ${what}: 400 on the list page, the message by the ${field} field`, async () => {
      const page = await admin.browser.navigate(`/admin/grants?${query}`);
      assert.equal(page.status, 400);
      const error = new RegExp(`<p class="field-error" id="listGrants-${field}-error">${message.source}</p>`);
      assert.match(page.html, error);
      assert.match(page.html, new RegExp(`id="filter-${field}" name="${field}" type="text" value="[^"]+" aria-invalid="true"`), 'the input is kept and marked');
      assert.match(page.html, /<h1>Connected apps<\/h1>/);
      assert.match(page.html, /href="\/admin\/connections"/, 'the navigation is there');
      assert.doesNotMatch(page.html, /No connected apps/, 'no empty list reading as "nothing there"');
    });
  }

  test('an administrator\'s revoke sent twice (a double click, back and send again) ends on the list without the grant, with a notice, not an error page', async () => {
    const tokens = await connectAs(server, client, 'kim', 'kim password 1234');
    const grantId = await grantIdOf(server, tokens.refreshToken);
    const page = await admin.browser.navigate('/admin/grants?user=kim');

    const first = await post(admin.browser, page, '/admin/grants/revoke', { grant_id: grantId });
    assert.match(first.html, /Access was revoked/);
    const second = await post(admin.browser, page, '/admin/grants/revoke', { grant_id: grantId });
    assert.equal(second.status, 200, second.html.slice(0, 500));
    assert.equal(new URL(second.url).pathname, '/admin/grants');
    assert.match(second.html, /<p class="notice success" role="status">That grant does not exist \(any more\); nothing changed\.<\/p>/);
    assert.doesNotMatch(second.html, new RegExp(grantId), 'the grant is not listed');
    assert.equal((await refresh(server.issuer, client, tokens.refreshToken)).status, 400);
    const recorded = (await auditEvents(server, 'grant.revoked')).filter((event) => event.details.grant_id === grantId);
    assert.equal(recorded.length, 1, 'the revocation is recorded once');
  });

  test('an administrator\'s revoke sent from two tabs at once: both end on the list without the grant, neither on an error page', async () => {
    const tokens = await connectAs(server, client, 'kim', 'kim password 1234');
    const grantId = await grantIdOf(server, tokens.refreshToken);
    const tabs = [await admin.browser.navigate('/admin/grants'), await admin.browser.navigate('/admin/grants?user=kim')];

    const answers = await Promise.all(tabs.map((tab) => post(admin.browser, tab, '/admin/grants/revoke', { grant_id: grantId })));
    for (const answer of answers) {
      assert.equal(answer.status, 200, answer.html.slice(0, 500));
      assert.match(answer.html, /Access was revoked|That grant does not exist \(any more\); nothing changed\./);
      assert.doesNotMatch(answer.html, new RegExp(grantId));
    }
    assert.equal(await server.auth.admin.grants.find(grantId), undefined);
  });

  test('a user sees only their own connected apps and can revoke them; not someone else\'s', async () => {
    const mine = await connectAs(server, client, 'kim', 'kim password 1234');
    const other = await connectAs(server, client, 'jo', 'jo password 1234');
    const joGrant = { grantId: await grantIdOf(server, other.refreshToken) };
    const kimGrant = { grantId: await grantIdOf(server, mine.refreshToken) };

    const { browser, page } = await signInAt(server, 'kim', 'kim password 1234', '/account');
    assert.match(page.html, /Your connected apps/);
    assert.match(page.html, new RegExp(kimGrant.grantId));
    assert.doesNotMatch(page.html, new RegExp(joGrant.grantId));
    assert.doesNotMatch(page.html, /value="gatehouse"|>Gatehouse<\/td>/, 'Gatehouse\'s own sign-in is not listed');

    // Answered as a grant gone already is: a grant id tells nobody whose it is.
    const foreign = await post(browser, page, '/account/grants/revoke', { grant_id: joGrant.grantId });
    assert.equal(foreign.status, 200);
    assert.match(foreign.html, /That app is not connected to your account \(any more\); nothing changed\./);
    assert.equal((await refresh(server.issuer, client, other.refreshToken)).status, 200, 'jo\'s grant is untouched');

    const done = await post(browser, page, '/account/grants/revoke', { grant_id: kimGrant.grantId });
    assert.match(done.html, /Access was revoked/);
    assert.doesNotMatch(done.html, new RegExp(kimGrant.grantId));
    assert.equal((await refresh(server.issuer, client, mine.refreshToken)).status, 400);
    const [event] = (await auditEvents(server, 'grant.revoked'));
    assert.equal(event!.actor, 'kim');
    assert.equal(event!.details.reason, 'revoked by the user');
  });

  test('a user\'s revoke sent twice (a double click, back and send again) ends on the list without the app, with a notice, not an error page', async () => {
    const tokens = await connectAs(server, client, 'kim', 'kim password 1234');
    const grantId = await grantIdOf(server, tokens.refreshToken);
    const { browser, page } = await signInAt(server, 'kim', 'kim password 1234', '/account');

    const first = await post(browser, page, '/account/grants/revoke', { grant_id: grantId });
    assert.match(first.html, /Access was revoked/);
    const second = await post(browser, page, '/account/grants/revoke', { grant_id: grantId });
    assert.equal(second.status, 200, second.html.slice(0, 500));
    assert.equal(new URL(second.url).pathname, '/account');
    assert.match(second.html, /<p class="notice success" role="status">That app is not connected to your account \(any more\); nothing changed\.<\/p>/);
    assert.doesNotMatch(second.html, new RegExp(grantId), 'the app is not listed');
    assert.equal((await refresh(server.issuer, client, tokens.refreshToken)).status, 400);
  });

  test('a user\'s revoke sent from two tabs at once: both end on the list without the app, neither on an error page', async () => {
    const tokens = await connectAs(server, client, 'kim', 'kim password 1234');
    const grantId = await grantIdOf(server, tokens.refreshToken);
    const { browser, page } = await signInAt(server, 'kim', 'kim password 1234', '/account');
    const other = await browser.navigate('/account');

    const answers = await Promise.all([page, other].map((tab) => post(browser, tab, '/account/grants/revoke', { grant_id: grantId })));
    for (const answer of answers) {
      assert.equal(answer.status, 200, answer.html.slice(0, 500));
      assert.match(answer.html, /Access was revoked|That app is not connected to your account \(any more\); nothing changed\./);
      assert.doesNotMatch(answer.html, new RegExp(grantId));
    }
    assert.equal(await server.auth.admin.grants.find(grantId), undefined);
  });

  test('rotating a key at runtime: the new key signs, old and new tokens both verify; retiring needs confirmation while old tokens may live', async () => {
    const before = await connectAs(server, client, 'kim', 'kim password 1234');
    const oldKid = decodeProtectedHeader(before.accessToken).kid!;
    // A sign-in that is already on its sign-in page when the key changes finishes on the new provider.
    const { verifier, challenge } = createPkce();
    const inFlight = new Browser(server.issuer);
    const signInPage = await inFlight.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, challenge));

    const keysPage = await admin.browser.navigate('/admin/keys');
    const rotated = await rotateFrom(admin.browser, keysPage);
    assert.match(rotated.html, /Rotated: the next key \(already published\) signs from now on/);
    const keys = await server.auth.admin.keys.list();
    assert.deepEqual(keys.map((k) => k.status), ['active', 'next', 'retiring']);
    assert.equal(keys[2]!.kid, oldKid);
    assert.deepEqual((await publishedKeys()).keys.map((k) => k.kid).sort(), [oldKid, keys[0]!.kid, keys[1]!.kid].sort());

    let page = await signIn(inFlight, signInPage, 'kim', 'kim password 1234');
    if (page.html.includes('name="decision"')) page = await decide(inFlight, page, 'approve');
    const code = new URL(page.url).searchParams.get('code')!;
    const afterTokens = await redeem(server.issuer, client, { code, verifier, redirectUri: 'https://claude.ai/api/mcp/auth_callback', callback: new URL(page.url), browser: inFlight });
    assert.equal(afterTokens.status, 200);
    assert.equal(decodeProtectedHeader(afterTokens.body.access_token as string).kid, keys[0]!.kid, 'the new key signs');
    assert.ok(await verifies(before.accessToken), 'a token signed before the rotation still verifies');
    assert.ok(await verifies(afterTokens.body.access_token as string));
    const refreshed = await refresh(server.issuer, client, before.refreshToken);
    assert.equal(decodeProtectedHeader(refreshed.body.access_token as string).kid, keys[0]!.kid, 'refreshes are signed by the new key too');

    const listed = await admin.browser.navigate('/admin/keys');
    const csrf = csrfOf(listed, '/admin/keys/retire');
    const active = await admin.browser.submit('/admin/keys/retire', { csrf, kid: keys[0]!.kid, confirm: 'yes' }, listed.url);
    assert.equal(active.status, 409);
    assert.match(active.html, /active key .* cannot be retired/);
    const next = await admin.browser.submit('/admin/keys/retire', { csrf, kid: keys[1]!.kid, confirm: 'yes' }, listed.url);
    assert.equal(next.status, 409);
    assert.match(next.html, /next key .* cannot be retired/);
    const unconfirmed = await admin.browser.submit('/admin/keys/retire', { csrf, kid: oldKid }, listed.url);
    assert.equal(unconfirmed.status, 409);
    assert.match(unconfirmed.html, /may be valid until/);
    assert.ok(await verifies(before.accessToken), 'still published');

    const retired = await admin.browser.submit('/admin/keys/retire', { csrf, kid: oldKid, confirm: 'yes' }, listed.url);
    assert.match(retired.html, /The key was retired/);
    assert.deepEqual((await publishedKeys()).keys.map((k) => k.kid), [keys[0]!.kid, keys[1]!.kid]);
    assert.equal(await verifies(before.accessToken), false, 'tokens of a retired key no longer verify');
    assert.ok(await verifies(afterTokens.body.access_token as string));
    assert.deepEqual((await auditEvents(server, 'key.retired')).map((e) => e.details), [{ kid: oldKid, forced: true }]);
  });

  test('a Rotate form sent twice rotates once: the key the page showed as next signs, not the one made a moment ago', async () => {
    const keysPage = await admin.browser.navigate('/admin/keys');
    const before = await server.auth.admin.keys.list();
    const shownAsNext = before.find((k) => k.status === 'next')!.kid;
    const rotationsBefore = (await auditEvents(server, 'key.rotated')).length;

    // A double click: the same form, posted twice at once.
    const answers = await Promise.all([rotateFrom(admin.browser, keysPage), rotateFrom(admin.browser, keysPage)]);
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409]);
    assert.match(answers.find((a) => a.status === 200)!.html, /Rotated: the next key \(already published\) signs from now on/);
    assert.match(answers.find((a) => a.status === 409)!.html, new RegExp(`Not saved: ${shownAsNext} is no longer the next key: the keys were rotated meanwhile`));

    const after = await server.auth.admin.keys.list();
    assert.equal(after.find((k) => k.status === 'active')!.kid, shownAsNext);
    assert.equal(after.filter((k) => k.status === 'retiring').length, before.filter((k) => k.status === 'retiring').length + 1, 'one key stopped signing');
    assert.equal((await auditEvents(server, 'key.rotated')).length, rotationsBefore + 1);
  });

  test('the audit log page filters by event, actor and client, and shows no secrets', async () => {
    const all = await admin.browser.navigate('/admin/audit');
    assert.match(all.html, /sign_in\.success/);
    assert.match(all.html, /token\.issued/);
    const byEvent = await admin.browser.navigate('/admin/audit?event=user.created');
    assert.doesNotMatch(byEvent.html, /<td>token\.issued<\/td>/);
    const byActor = await admin.browser.navigate('/admin/audit?actor=KIM');
    assert.match(byActor.html, /<td>kim<\/td>/);
    assert.doesNotMatch(byActor.html, /<td>jo<\/td>/);
    const byClient = await admin.browser.navigate(`/admin/audit?client=${encodeURIComponent(client.client_id)}&event=token.issued`);
    assert.match(byClient.html, /<td>token\.issued<\/td>/);
    const future = await admin.browser.navigate('/admin/audit?since=2999-01-01T00:00');
    assert.match(future.html, /No event matches/);
    const bad = await admin.browser.navigate('/admin/audit?since=yesterday');
    assert.equal(bad.status, 400);
  });

  test('signing out ends the session: the next visit is sent to sign in', async () => {
    const { browser, page } = await signInAt(server, 'admin', ADMIN_PASSWORD, '/admin');
    const out = await post(browser, page, '/account/sign-out');
    assert.match(out.html, /Signed out/);
    const again = await browser.request('/admin');
    assert.equal(again.status, 303);
    assert.match(again.headers.get('location')!, /^\/oauth\/authorize\?/);
  });
});

describe('key stages over time', () => {
  test('a retiring key needs confirmation while its tokens may live, and none once the longest token lifetime has passed since every server could have stopped signing with it', async () => {
    const clock = new TestClock();
    const server = await startAuthServer({ clock });
    try {
      const keys = server.auth.admin.keys;
      const by = { actor: { name: 'test' } };
      const oldKid = (await keys.list()).find((k) => k.status === 'active')!.kid;
      await keys.rotate(by);
      const retiring = (await keys.list()).find((k) => k.kid === oldKid)!;
      assert.equal(retiring.status, 'retiring');
      assert.equal(retiring.stoppedSigningAt, Math.floor(clock.now() / 1000) * 1000, 'stopped signing at the rotation, on the server clock');
      const lifetime = (retiring.tokensValidUntil! - retiring.stoppedSigningAt!) / 1000;
      // The longest token lifetime, after the time another replica (or the server beside the CLI)
      // may still sign with the key before its poll sees the rotation.
      assert.equal(lifetime, server.config.authServer.keysReloadInterval + Math.max(server.config.authServer.accessTokenTtl, ID_TOKEN_TTL));

      clock.advance(lifetime - 1);
      assert.equal((await keys.list()).find((k) => k.kid === oldKid)!.safeToRetire, false);
      await assert.rejects(keys.retire(oldKid, { force: false }, by), (err: { status?: number; error_description?: string }) => err.status === 409 && /may be valid until/.test(err.error_description ?? ''));
      clock.advance(1);
      assert.equal((await keys.list()).find((k) => k.kid === oldKid)!.safeToRetire, true);
      await keys.retire(oldKid, { force: false }, by);
      assert.deepEqual((await auditEvents(server, 'key.retired')).map((e) => e.details), [{ kid: oldKid, forced: false }]);
    } finally {
      await server.close();
    }
  });
});
