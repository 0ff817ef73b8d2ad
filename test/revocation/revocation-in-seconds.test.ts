/**
 * "Revocation in seconds" end to end (issue 11): both real apps, the resource server following
 * the revocation feed with its DEFAULT poll interval (2 s), users signed in through the real
 * pages by the MCP SDK's own auth flow, and MCP sessions held open by the SDK client. For each
 * trigger, done through the surface an admin or a user uses, the time from the action until the
 * open session (and a new session with the same token) is refused is printed and must be ≤ 5 s;
 * tokens the action does not concern keep working.
 *
 * The tests share one pair of servers and run in order: the key tests last, since they change
 * which key signs.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { decodeJwt, generateKeyPair, importJWK, SignJWT, type JWK, type JSONWebKeySet } from 'jose';
import type { Browser, PageResult } from '../helpers/browser.ts';
import { TestOAuthClientProvider } from '../helpers/mcp-oauth-client.ts';
import { freePort } from '../helpers/net.ts';
import { connect, redeem, refresh, registerClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { createUser, post, rotateFrom, saveScopes, signInAt } from '../admin/support/admin-browser.ts';
import { measureRefusal, revokedRefusal } from './support/measure-refusal.ts';
import { McpSession, type Answer } from './support/mcp-session.ts';
import { recordRequests } from './support/record-requests.ts';
import { describeTokens, signInThroughSdk, type Connection } from './support/sign-in-through-sdk.ts';

const PASSWORD = 'a long test password';

describe('revocation in seconds: each trigger refuses open MCP sessions within 5 s (both apps, MCP SDK client)', () => {
  let server: TestAuthServer;
  let rs: Awaited<ReturnType<typeof startResourceServerBeside>>;
  let mcpUrl: string;
  let admin: { browser: Browser; page: PageResult };
  const { logger, served } = recordRequests('auth-server');
  // Three client apps, each registered by DCR on first use (Claude Code, VS Code, one to delete).
  const claude = new TestOAuthClientProvider('http://localhost:53682/callback');
  const vscode = new TestOAuthClientProvider('http://127.0.0.1:33418/');
  const doomed = new TestOAuthClientProvider('http://127.0.0.1:45123/callback');
  const open: McpSession[] = [];
  /** Another user, another app: must keep working after every action. */
  let bystander: McpSession;

  async function signIn(app: TestOAuthClientProvider, username: string, scope = 'mcp:read'): Promise<Connection> {
    return signInThroughSdk(app, { issuer: server.issuer, mcpUrl }, username, PASSWORD, scope);
  }

  async function session(token: string): Promise<McpSession> {
    const opened = await McpSession.require(mcpUrl, token);
    open.push(opened);
    assert.equal((await opened.call()).status, 200, 'the session made a successful tools/call');
    return opened;
  }

  async function user(username: string, scopes = ['mcp:read']): Promise<string> {
    return createUser(server, username, PASSWORD, scopes);
  }

  /** Resolves when the resource server's next poll of the feed has been answered. */
  async function nextFeedPoll(): Promise<void> {
    const polls = () => served.filter((r) => r.path === '/oauth/revocations').length;
    const seen = polls();
    const deadline = performance.now() + 5000;
    while (polls() === seen) {
      assert.ok(performance.now() < deadline, 'the resource server stopped polling the feed');
      await delay(10);
    }
  }

  async function assertServed(sessions: Record<string, McpSession>): Promise<void> {
    for (const [who, s] of Object.entries(sessions)) {
      const answer = await s.call();
      assert.equal(answer.status, 200, `${who} must not be affected: ${JSON.stringify(answer)}`);
    }
  }

  before(async () => {
    const port = await freePort();
    mcpUrl = `http://127.0.0.1:${port}/mcp`;
    server = await startAuthServer({ env: { RESOURCE_URL: mcpUrl }, logger });
    rs = await startResourceServerBeside(server);
    assert.equal(server.config.resourceServer.revocation.pollInterval, 2, 'the default poll interval, so the figures are what users get');
    admin = await signInAt(server, 'admin', ADMIN_PASSWORD);
    await user('bea');
    bystander = await session((await signIn(vscode, 'bea')).accessToken);
  });
  after(async () => {
    for (const s of open) await s.client.close();
    await rs?.close();
    await server?.close();
  });

  test('disabling a user on the admin page refuses every token of theirs, in every app', async () => {
    const id = await user('dora');
    const inClaude = await session((await signIn(claude, 'dora')).accessToken);
    const inVsCode = await session((await signIn(vscode, 'dora')).accessToken);
    const neighbour = await session((await signIn(claude, 'bea')).accessToken);

    const page = await admin.browser.navigate(`/admin/users/${id}`);
    await measureRefusal('user disabled', mcpUrl, [{ name: 'Claude', session: inClaude }, { name: 'VS Code', session: inVsCode }], async () => {
      const done = await post(admin.browser, page, `/admin/users/${id}/disable`);
      assert.match(done.html, /disabled/i);
    });
    await assertServed({ 'another user of the same app': neighbour, bystander });
  });

  test('an admin revoking one grant on the connected-apps page refuses that grant\'s tokens; the user\'s other app keeps working', async () => {
    await user('gail');
    const victim = await signIn(claude, 'gail');
    const inClaude = await session(victim.accessToken);
    const inVsCode = await session((await signIn(vscode, 'gail')).accessToken);

    const page = await admin.browser.navigate('/admin/grants');
    assert.ok(page.html.includes(victim.grantId), 'the grant is listed');
    await measureRefusal('grant revoked by an admin', mcpUrl, [{ name: 'gail in Claude', session: inClaude }], async () => {
      assert.match((await post(admin.browser, page, '/admin/grants/revoke', { grant_id: victim.grantId })).html, /Access was revoked/);
    });
    await assertServed({ 'the same user in another app': inVsCode, bystander });
  });

  test('a user revoking an app on their /account page refuses its tokens; their other app keeps working', async () => {
    await user('ada');
    const victim = await signIn(claude, 'ada');
    const inClaude = await session(victim.accessToken);
    const inVsCode = await session((await signIn(vscode, 'ada')).accessToken);
    const account = await signInAt(server, 'ada', PASSWORD, '/account');
    assert.ok(account.page.html.includes(victim.grantId));

    await measureRefusal('grant revoked by the user on /account', mcpUrl, [{ name: 'ada in Claude', session: inClaude }], async () => {
      const done = await post(account.browser, account.page, '/account/grants/revoke', { grant_id: victim.grantId });
      assert.match(done.html, /Access was revoked/);
    });
    await assertServed({ 'the same user in another app': inVsCode, bystander });
  });

  test('replaying a rotated refresh token kills the grant: its access tokens, old and refreshed, are refused', async () => {
    await user('rex');
    const first = await signIn(claude, 'rex');
    const inClaude = await session(first.accessToken);
    const inVsCode = await session((await signIn(vscode, 'rex')).accessToken);
    const rotated = await refresh(server.issuer, { client_id: first.clientId }, first.refreshToken);
    assert.equal(rotated.status, 200);
    const second = describeTokens(rotated.body.access_token as string, rotated.body.refresh_token as string);
    assert.equal(second.grantId, first.grantId, 'a refresh stays in the grant');
    const refreshedSession = await session(second.accessToken);

    await measureRefusal('refresh-token reuse', mcpUrl, [
      { name: 'first access token', session: inClaude }, { name: 'refreshed access token', session: refreshedSession },
    ], async () => {
      const replay = await refresh(server.issuer, { client_id: first.clientId }, first.refreshToken);
      assert.equal(replay.status, 400);
      assert.equal(replay.body.error, 'invalid_grant');
    });
    assert.equal((await refresh(server.issuer, { client_id: first.clientId }, second.refreshToken)).body.error, 'invalid_grant', 'the rotated refresh token died with the grant');
    await assertServed({ 'the same user in another app': inVsCode, bystander });
  });

  test('revoking the refresh token at /oauth/revoke ends the grant: its access token is refused', async () => {
    await user('rita');
    const victim = await signIn(claude, 'rita');
    const inClaude = await session(victim.accessToken);
    const inVsCode = await session((await signIn(vscode, 'rita')).accessToken);

    await measureRefusal('/oauth/revoke of the refresh token', mcpUrl, [{ name: 'rita in Claude', session: inClaude }], async () => {
      const response = await fetch(`${server.issuer}/oauth/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: victim.refreshToken, token_type_hint: 'refresh_token', client_id: victim.clientId }),
      });
      assert.equal(response.status, 200);
    });
    await assertServed({ 'the same user in another app': inVsCode, bystander });
  });

  test('revoking the access token itself at /oauth/revoke refuses that token only; the grant lives on', async () => {
    await user('tess');
    const victim = await signIn(claude, 'tess');
    const inClaude = await session(victim.accessToken);

    await measureRefusal('/oauth/revoke of the access token', mcpUrl, [{ name: 'tess in Claude', session: inClaude }], async () => {
      const response = await fetch(`${server.issuer}/oauth/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: victim.accessToken, token_type_hint: 'access_token', client_id: victim.clientId }),
      });
      assert.equal(response.status, 200);
    });
    const refreshed = await refresh(server.issuer, { client_id: victim.clientId }, victim.refreshToken);
    assert.equal(refreshed.status, 200, 'the refresh token still works');
    const fresh = await session(refreshed.body.access_token as string);
    await assertServed({ 'the next access token of the same grant': fresh, bystander });
  });

  test('replaying an authorization code kills the grant it started: its access token is refused', async () => {
    await user('cody');
    const app = await registerClient(server.issuer);
    const flow = await connect(server.issuer, { clientId: app.client_id, scope: 'mcp:read', resource: mcpUrl, username: 'cody', password: PASSWORD });
    const redeemed = await redeem(server.issuer, app, flow);
    assert.equal(redeemed.status, 200);
    const codySession = await session(redeemed.body.access_token as string);

    await measureRefusal('authorization code replayed', mcpUrl, [{ name: 'cody', session: codySession }], async () => {
      const replay = await redeem(server.issuer, app, flow);
      assert.equal(replay.body.error, 'invalid_grant');
    });
    await assertServed({ bystander });
  });

  test('deleting a client on the admin page refuses the tokens of every user of that client; their other apps keep working', async () => {
    await user('cleo');
    const cleo = await signIn(doomed, 'cleo');
    const cleoSession = await session(cleo.accessToken);
    const beaSession = await session((await signIn(doomed, 'bea')).accessToken);
    const cleoElsewhere = await session((await signIn(claude, 'cleo')).accessToken);

    const page = await admin.browser.navigate('/admin/clients');
    await measureRefusal('client deleted', mcpUrl, [{ name: 'cleo', session: cleoSession }, { name: 'bea', session: beaSession }], async () => {
      assert.match((await post(admin.browser, page, '/admin/clients/delete', { client_id: cleo.clientId })).html, /client was deleted/);
    });
    await assertServed({ 'the same user in another app': cleoElsewhere, bystander });
  });

  test('removing mcp:write from a user refuses their mcp:write token; a new token lacks the scope', async () => {
    const id = await user('sam', ['mcp:read', 'mcp:write']);
    await user('wes', ['mcp:read', 'mcp:write']);
    const victim = await signIn(claude, 'sam', 'mcp:read mcp:write');
    assert.equal(victim.scope, 'mcp:read mcp:write');
    const writer = await session(victim.accessToken);
    assert.equal((await writer.call('create_note', { title: 'before', body: 'allowed' })).status, 200);
    const otherWriter = await session((await signIn(claude, 'wes', 'mcp:read mcp:write')).accessToken);

    const page = await admin.browser.navigate(`/admin/users/${id}`);
    await measureRefusal('scope removed', mcpUrl, [{ name: 'sam', session: writer }], async () => {
      await saveScopes(admin.browser, page, `/admin/users/${id}/scopes`, ['mcp:read']);
      assert.deepEqual((await server.auth.users.findById(id))!.scopes, ['mcp:read']);
    });
    assert.equal((await refresh(server.issuer, { client_id: victim.clientId }, victim.refreshToken)).body.error, 'invalid_grant', 'the grant that held mcp:write cannot be refreshed');
    const again = await signIn(claude, 'sam', 'mcp:read mcp:write');
    assert.equal(again.scope, 'mcp:read', 'a new sign-in no longer gets mcp:write');
    const reader = await session(again.accessToken);
    const write: Answer = await reader.call('create_note', { title: 'after', body: 'refused' });
    assert.equal(write.status, 403);
    assert.equal(write.error, 'insufficient_scope');
    assert.equal((await otherWriter.call('create_note', { title: 'other', body: 'still allowed' })).status, 200, 'another user\'s mcp:write is untouched');
    await assertServed({ bystander });
  });

  test('a token minted for a grant just after its revocation (a refresh already under way) is refused too', async () => {
    await user('ray');
    const victim = await signIn(claude, 'ray');
    const raySession = await session(victim.accessToken);
    await measureRefusal('grant revoked by an admin (race)', mcpUrl, [{ name: 'ray', session: raySession }], async () => {
      await post(admin.browser, await admin.browser.navigate('/admin/grants'), '/admin/grants/revoke', { grant_id: victim.grantId });
    });
    // What the provider mints when a refresh checked the grant before the revocation and signs
    // after it: the grant's claims, signed by the active key, with an iat after the revocation.
    const stored = JSON.parse(readFileSync(join(server.dir, 'keys', 'signing-keys.json'), 'utf8')) as { keys: Array<{ status: string; jwk: JWK & { kid: string } }> };
    const active = stored.keys.find((k) => k.status === 'active')!.jwk;
    const iat = Math.floor(Date.now() / 1000) + 1;
    const { iat: _iat, exp: _exp, jti: _jti, ...claims } = decodeJwt(victim.accessToken);
    const late = await new SignJWT({ ...claims, jti: randomUUID() })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: active.kid })
      .setIssuedAt(iat).setExpirationTime(iat + 3600)
      .sign(await importJWK(active, 'RS256'));
    const answer = await McpSession.probe(mcpUrl, late);
    assert.ok(revokedRefusal(answer), `a token naming the revoked grant is refused whenever it was minted: ${JSON.stringify(answer)}`);
  });

  test('a burst of revocations larger than one feed page is followed within 5 s', async () => {
    await user('max');
    const victim = await signIn(claude, 'max');
    const maxSession = await session(victim.accessToken);
    await measureRefusal('1,200 grants revoked at once, the user\'s last', mcpUrl, [{ name: 'max', session: maxSession }], async () => {
      // As when a client used by many is deleted: one entry per grant, more than MAX_PAGE (1,000).
      for (let i = 0; i < 1200; i++) await server.auth.admin.revocations.revokeGrant(randomUUID());
      await post(admin.browser, await admin.browser.navigate('/admin/grants'), '/admin/grants/revoke', { grant_id: victim.grantId });
    });
    await assertServed({ bystander });
  });

  test('MCP calls never reach the auth-server: during a burst of calls only the feed\'s own polls arrive there', async () => {
    const fresh = await signIn(claude, 'bea');
    const before = served.length;
    const started = performance.now();
    // A token the resource server has never seen: its first check uses the cached key set.
    const s = await session(fresh.accessToken);
    for (let i = 0; i < 40; i++) assert.equal((await s.call()).status, 200);
    for (let i = 0; i < 10; i++) assert.equal((await bystander.call()).status, 200);
    const elapsed = performance.now() - started;
    const reached = served.slice(before);
    assert.deepEqual(reached.filter((r) => r.path !== '/oauth/revocations'), [], 'no JWKS fetch, no introspection, nothing per call');
    const polls = Math.ceil(elapsed / 2000) + 1;
    assert.ok(reached.length <= polls, `${reached.length} feed reads in ${Math.round(elapsed)} ms of 50 calls (at most ${polls} polls)`);
    console.log(`revocation: 50 MCP calls in ${Math.round(elapsed)} ms → ${reached.length} request(s) at the auth-server, all feed polls`);
  });

  test('staged rotation: after a made-up kid started the JWKS cooldown, a token from the newly active key is accepted at once', async () => {
    const jwksBefore = await (await fetch(`${server.issuer}/oauth/jwks`)).json() as JSONWebKeySet;
    const next = (await server.auth.admin.keys.list()).find((k) => k.status === 'next')!;
    assert.ok(jwksBefore.keys.some((k) => k.kid === next.kid), 'the next key is published before it signs');

    // A kid nobody publishes makes the verifier refetch the JWKS (unless it did within its cooldown);
    // either way it will not refetch again for its cooldown (30 s).
    const { privateKey } = await generateKeyPair('RS256');
    const madeUp = await new SignJWT({ client_id: 'x', scope: 'mcp:read', jti: randomUUID() })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'made-up-kid' })
      .setIssuer(server.issuer).setAudience(mcpUrl).setSubject('nobody').setIssuedAt().setExpirationTime('5m')
      .sign(privateKey);
    const refused = await McpSession.probe(mcpUrl, madeUp);
    assert.equal(refused.status, 401);
    assert.match(refused.description ?? '', /key the issuer does not publish/);

    const holder = await signIn(vscode, 'bea');
    const keysPage = await admin.browser.navigate('/admin/keys');
    // Rotate just after a feed poll, so the next poll (and the key reload the rotation's feed
    // entry asks for) cannot come before the new key's first token: only staging can make it pass.
    await nextFeedPoll();
    const since = served.length;
    const started = performance.now();
    assert.match((await rotateFrom(admin.browser, keysPage)).html, /Rotated/);
    const refreshed = await refresh(server.issuer, { client_id: holder.clientId }, holder.refreshToken);
    const signer = describeTokens(refreshed.body.access_token as string, refreshed.body.refresh_token as string);
    const answer = await McpSession.probe(mcpUrl, signer.accessToken);
    const elapsed = Math.round(performance.now() - started);
    assert.equal(answer.status, 200, `a token of the new active key is accepted on the first try: ${JSON.stringify(answer)}`);
    assert.equal(signer.kid, next.kid, 'the key published as next is the one that signs now');
    const window = served.slice(since);
    // On a machine slow enough for a poll to land in the window, the feed may have reloaded the keys.
    if (!window.some((r) => r.path === '/oauth/revocations')) {
      assert.deepEqual(window.filter((r) => r.path === '/oauth/jwks'), [], 'accepted with the key set fetched before the rotation');
    }
    console.log(`revocation: staged rotation → a token of the new key accepted ${elapsed} ms after the rotation (first try, ${window.filter((r) => r.path === '/oauth/jwks').length} JWKS fetch)`);
    const created = (await server.auth.admin.keys.list()).find((k) => k.status === 'next')!;
    assert.notEqual(created.kid, next.kid);
    assert.ok(!jwksBefore.keys.some((k) => k.kid === created.kid), 'the new next key is new; it signs nothing until the next rotation');

    // The rotation's feed entry makes the resource server fetch the key set, new next key
    // included, at its next poll. (A second rotation before that would promote a key it does not
    // know yet, and its tokens would be refused until then: the test after this one rotates.)
    const deadline = performance.now() + 5000;
    while (!served.slice(since).some((r) => r.path === '/oauth/jwks')) {
      assert.ok(performance.now() < deadline, 'the resource server did not reload the key set after the rotation');
      await delay(10);
    }
  });

  test('retiring a signing key (forced) refuses its tokens within 5 s, tokens forged with its private key included', async () => {
    await user('kay');
    const victim = await signIn(claude, 'kay');
    const kaySession = await session(victim.accessToken);
    // An attacker who copied the key file before the key was retired.
    const stored = JSON.parse(readFileSync(join(server.dir, 'keys', 'signing-keys.json'), 'utf8')) as { keys: Array<{ jwk: JWK & { kid: string } }> };
    const leaked = stored.keys.find((k) => k.jwk.kid === victim.kid)!.jwk;
    const leakedKey = await importJWK(leaked, 'RS256');
    const forge = () => new SignJWT({ client_id: victim.clientId, scope: 'mcp:read mcp:write mcp:admin', jti: randomUUID() })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: leaked.kid })
      .setIssuer(server.issuer).setAudience(mcpUrl).setSubject(victim.subject).setIssuedAt().setExpirationTime('1h')
      .sign(leakedKey);
    const forgedSession = await session(await forge());
    assert.deepEqual((await forgedSession.call()).result!.scopes, ['mcp:read', 'mcp:write', 'mcp:admin'], 'before retirement the forged token works: the threat');

    const keysPage = await admin.browser.navigate('/admin/keys');
    await rotateFrom(admin.browser, keysPage);
    const afterRotation = await session((await signIn(vscode, 'bea')).accessToken);
    assert.equal((await kaySession.call()).status, 200, 'a rotation alone stops no token');

    const retirePage = await admin.browser.navigate('/admin/keys');
    await measureRefusal('signing key retired', mcpUrl, [
      { name: 'a token it signed', session: kaySession }, { name: 'a token forged with it', session: forgedSession },
    ], async () => {
      assert.match((await post(admin.browser, retirePage, '/admin/keys/retire', { kid: leaked.kid, confirm: 'yes' })).html, /The key was retired/);
    });
    const newForgery = await McpSession.probe(mcpUrl, await forge());
    assert.equal(newForgery.status, 401, 'a forgery the resource server never saw is refused too');
    assert.equal(newForgery.error, 'invalid_token');
    await assertServed({ 'a token of the new key': afterRotation, 'a token of an older, still published key': bystander });
  });
});
