/**
 * The auth-server's revocation feed (`GET /oauth/revocations`): what goes on it, what it looks
 * like on the wire (hashed identifiers only), paging, bad input, and pruning. A real server with
 * its SQLite database; the resource server's side is in test/revocation/revocation-feed-at-the-mcp-endpoint.test.ts
 * and end to end in test/revocation/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { revocationValue, type RevocationFeedPage } from '../../apps/shared/revocation-entry.ts';
import { CLIENT_AFTER_SECONDS, MAX_ENTRIES_PER_SUBJECT, MAX_TOKEN_ENTRIES_PER_SUBJECT, SUBJECT_AFTER_SECONDS } from '../../apps/auth-server/src/revocation/revocation-feed.ts';
import { RevocationList, tokenMatch } from '../../apps/resource-server/src/auth/revocation-list.ts';
import { CLAUDE_DCR_BODY, clientSecretBasic, connect, redeem, refresh, registerClient, tokenRequest } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { waitFor } from '../helpers/wait-for.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };

describe('the revocation feed', () => {
  let server: TestAuthServer;
  const feedUrl = (query = '') => `${server.issuer}/oauth/revocations${query}`;
  const revoke = (params: Record<string, string>, headers: Record<string, string> = {}) => fetch(`${server.issuer}/oauth/revoke`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(params),
  });
  const read = async (query = ''): Promise<RevocationFeedPage> => {
    const response = await fetch(feedUrl(query));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    return await response.json() as RevocationFeedPage;
  };

  type Client = Awaited<ReturnType<typeof registerClient>>;
  const signIn = async (client: Client, username: string, password: string) => redeem(server.issuer, client, await connect(server.issuer, {
    clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username, password,
  }));
  /** Revokes the client's access token and refreshes, `rounds` times, as a client looping would. */
  const revokeAndRefresh = async (client: Client, tokens: Record<string, unknown>, rounds: number) => {
    let accessToken = tokens.access_token as string;
    let refreshToken = tokens.refresh_token as string;
    const revoked: string[] = [];
    for (let i = 0; i < rounds; i++) {
      assert.equal((await revoke({ token: accessToken, client_id: client.client_id })).status, 200);
      revoked.push(accessToken);
      const refreshed = await refresh(server.issuer, client, refreshToken);
      assert.equal(refreshed.status, 200, 'the grant and its refresh token stay');
      accessToken = refreshed.body.access_token as string;
      refreshToken = (refreshed.body.refresh_token as string | undefined) ?? refreshToken;
    }
    return { revoked, refreshToken };
  };
  const claims = (token: string) => {
    const { sub, client_id: clientId, gid, jti, iat } = decodeJwt(token);
    return { sub: sub!, clientId: clientId as string, grantId: gid as string, jti: jti!, kid: decodeProtectedHeader(token).kid!, iat: iat! };
  };
  /** A token as the resource server's RevocationList matches it. */
  const match = (token: string) => tokenMatch({ ...claims(token), issuedAt: claims(token).iat });

  before(async () => {
    server = await startAuthServer();
  });
  after(() => server?.close());

  test('access tokens name their grant in gid, the value a grant revocation is published under', async () => {
    const client = await registerClient(server.issuer);
    const tokens = await redeem(server.issuer, client, await connect(server.issuer, {
      clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD,
    }));
    const { gid } = decodeJwt(tokens.body.access_token as string);
    const [grant] = await server.auth.admin.grants.list({ clientId: client.client_id });
    assert.equal(gid, grant!.grantId);

    const { next } = await read();
    assert.equal(await server.auth.admin.grants.revoke(grant!.grantId, BY, 'test'), true);
    const page = await read(`?after=${next}`);
    assert.deepEqual(page.entries.map((e) => [e.kind, e.value]), [['grant', revocationValue('grant', grant!.grantId)]]);
    assert.ok(!JSON.stringify(page).includes(grant!.grantId), 'the feed never names the grant itself');
  });

  test('a client revokes its own JWT access token at /oauth/revoke, four times: the feed lists that token once, the grant lives on', async () => {
    const client = await registerClient(server.issuer);
    const tokens = await redeem(server.issuer, client, await connect(server.issuer, {
      clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD,
    }));
    const accessToken = tokens.body.access_token as string;
    const { jti } = decodeJwt(accessToken);
    const { next } = await read();
    const revoked = await revoke({ token: accessToken, token_type_hint: 'access_token', client_id: client.client_id });
    assert.equal(revoked.status, 200);
    // Revoking it again changes nothing (RFC 7009 §2.2): still 200, and no second entry.
    for (let i = 0; i < 3; i += 1) assert.equal((await revoke({ token: accessToken, client_id: client.client_id })).status, 200);
    const page = await read(`?after=${next}`);
    assert.deepEqual(page.entries.map((e) => [e.kind, e.value]), [['token', revocationValue('token', jti!)]]);
    const refreshed = await refresh(server.issuer, client, tokens.body.refresh_token as string);
    assert.equal(refreshed.status, 200, 'the grant and its refresh token stay');
  });

  test(`a client refreshing and revoking its access tokens in a loop: past ${MAX_TOKEN_ENTRIES_PER_SUBJECT} of the user's its grant gets one cut-off, every revoked token stays refused, the user's other app is untouched, later tokens work`, async () => {
    await server.auth.admin.users.create({ username: 'carol', password: 'carol password 123', scopes: ['mcp:read'] }, BY);
    const otherApp = await registerClient(server.issuer);
    const otherTokens = await signIn(otherApp, 'carol', 'carol password 123');
    const client = await registerClient(server.issuer);
    const tokens = await signIn(client, 'carol', 'carol password 123');
    const { next } = await read();
    const { revoked, refreshToken } = await revokeAndRefresh(client, tokens.body, MAX_TOKEN_ENTRIES_PER_SUBJECT + 5);
    // What a resource server following the feed holds (its own RevocationList).
    const list = new RevocationList();
    const page = await read(`?after=${next}`);
    list.apply(page.entries);
    assert.deepEqual(page.entries.map((e) => e.kind).sort(), [...Array<string>(MAX_TOKEN_ENTRIES_PER_SUBJECT).fill('token'), 'grant'].sort(),
      `${revoked.length} revocations of one user's tokens: at most ${MAX_TOKEN_ENTRIES_PER_SUBJECT} token entries and one cut-off of the looping grant`);
    assert.equal(page.entries.find((e) => e.kind === 'grant')!.value, revocationValue('grant', claims(revoked[0]!).grantId));
    for (const [i, token] of revoked.entries()) assert.ok(list.refuses(match(token)), `revoked token ${i + 1} is refused`);
    assert.equal(list.refuses(match(otherTokens.body.access_token as string)), undefined, "the user's other app's token is not refused");

    // The cut-off is the last revoked token's iat: tokens issued after that second work.
    const lastIat = decodeJwt(revoked.at(-1)!).iat!;
    await waitFor('the second after the last revoked token', () => Math.floor(Date.now() / 1000) > lastIat);
    list.apply((await read(`?after=${page.next}`)).entries);
    for (const [app, refreshWith] of [[client, refreshToken], [otherApp, otherTokens.body.refresh_token as string]] as const) {
      const later = await refresh(server.issuer, app, refreshWith);
      assert.equal(later.status, 200, 'its grant and refresh token live on');
      const laterToken = later.body.access_token as string;
      assert.equal(list.refuses(match(laterToken)), undefined, 'a token issued after the last revoked one works');
      assert.equal(await server.auth.admin.revocations.refuses(claims(laterToken)), false, 'and token exchange accepts it too');
    }
  });

  test(`the looping app revoking one more token after each refresh of the user's other app never refuses that app's fresh token`, async () => {
    await server.auth.admin.users.create({ username: 'erin', password: 'erin password 123', scopes: ['mcp:read'] }, BY);
    const victim = await registerClient(server.issuer);
    let victimRefresh = (await signIn(victim, 'erin', 'erin password 123')).body.refresh_token as string;
    const looping = await registerClient(server.issuer);
    let { refreshToken } = await revokeAndRefresh(looping, (await signIn(looping, 'erin', 'erin password 123')).body, MAX_TOKEN_ENTRIES_PER_SUBJECT);
    const list = new RevocationList();
    let after = 0;
    for (let round = 0; round < 3; round++) {
      const refreshed = await refresh(server.issuer, victim, victimRefresh);
      assert.equal(refreshed.status, 200);
      victimRefresh = (refreshed.body.refresh_token as string | undefined) ?? victimRefresh;
      const victimToken = refreshed.body.access_token as string;
      // One more of the looping app's tokens, issued in the victim token's second or later.
      const next = await revokeAndRefresh(looping, (await refresh(server.issuer, looping, refreshToken)).body, 1);
      refreshToken = next.refreshToken;
      assert.ok(claims(next.revoked[0]!).iat >= claims(victimToken).iat);
      const page = await read(`?after=${after}`);
      list.apply(page.entries);
      after = page.next;
      assert.equal(list.refuses(match(victimToken)), undefined, `round ${round}: the other app's fresh token works`);
    }
  });

  // [grants the user authorizes (every other one on the second client), tokens revoked on each,
  // whether the account passes MAX_ENTRIES_PER_SUBJECT]: the first grant fills the token entries,
  // every later one past them holds one cut-off, whatever its rounds.
  const cycling: Array<[string, number, (grant: number) => number, boolean]> = [
    ['three grants over two clients, 20 rounds each', 3, () => MAX_TOKEN_ENTRIES_PER_SUBJECT, false],
    [`${MAX_ENTRIES_PER_SUBJECT - MAX_TOKEN_ENTRIES_PER_SUBJECT + 2} grants over two clients, one round each past the first's 20`, MAX_ENTRIES_PER_SUBJECT - MAX_TOKEN_ENTRIES_PER_SUBJECT + 2,
      (grant) => (grant === 0 ? MAX_TOKEN_ENTRIES_PER_SUBJECT : 1), true],
  ];
  for (const [what, grantCount, rounds, passes] of cycling) {
    test(`one user signing in again and again (${what}): the feed holds at most ${MAX_ENTRIES_PER_SUBJECT} of their entries${passes ? ', then one cut-off of the revoking client\'s tokens of the user' : ', and no such cut-off'}, never a sub cut-off`, async () => {
      const username = `cycler-${grantCount}`;
      const user = (await server.auth.admin.users.create({ username, password: 'cycler password 123', scopes: ['mcp:read'] }, BY))!;
      const clients = [await registerClient(server.issuer), await registerClient(server.issuer)];
      const { next } = await read();
      const grants: string[] = [];
      const revoked: string[] = [];
      for (let g = 0; g < grantCount; g++) {
        const tokens = await signIn(clients[g % 2]!, username, 'cycler password 123');
        grants.push(decodeJwt(tokens.body.access_token as string).gid as string);
        revoked.push(...(await revokeAndRefresh(clients[g % 2]!, tokens.body, rounds(g))).revoked);
      }
      assert.equal(new Set(grants).size, grantCount, 'each sign-in made its own grant');
      const page = await read(`?after=${next}`);
      const cutGrants = page.entries.filter((e) => e.kind === 'grant').map((e) => e.value);
      const clientSubs = page.entries.filter((e) => e.kind === 'client_sub');
      assert.equal(page.entries.filter((e) => e.kind === 'token').length, MAX_TOKEN_ENTRIES_PER_SUBJECT);
      const cutOffGrants = passes ? MAX_ENTRIES_PER_SUBJECT - MAX_TOKEN_ENTRIES_PER_SUBJECT : grantCount - 1;
      assert.deepEqual(cutGrants, grants.slice(1, 1 + cutOffGrants).map((g) => revocationValue('grant', g)), 'one cut-off for each grant past the token entries');
      const lastRevoker = clients[(grantCount - 1) % 2]!.client_id;
      assert.deepEqual(clientSubs.map((e) => [e.value, e.issued_before]), passes ? [[revocationValue('client_sub', `${lastRevoker} ${user.id}`), claims(revoked.at(-1)!).iat]] : []);
      assert.deepEqual(page.entries.filter((e) => e.kind === 'sub'), [], 'no cut-off of the whole account');
      assert.ok(page.entries.length <= MAX_ENTRIES_PER_SUBJECT + 1, `${revoked.length} revocations over ${grantCount} grants: ${page.entries.length} entries`);
      const list = new RevocationList();
      list.apply(page.entries);
      for (const [i, token] of revoked.entries()) assert.ok(list.refuses(match(token)), `revoked token ${i + 1} is refused`);
    });
  }

  test(`a service account's tokens count by their sub, its client id, and have no grant to cut off: past ${MAX_TOKEN_ENTRIES_PER_SUBJECT} one client_sub cut-off refuses its tokens up to that second, a later one works`, async () => {
    const service = await server.auth.admin.serviceAccounts.create({ name: 'Feed job', authMethod: 'client_secret_basic', scopes: ['mcp:read'] }, BY);
    const auth = clientSecretBasic(service.clientId, service.clientSecret!);
    const askToken = async () => (await tokenRequest(server.issuer, { grant_type: 'client_credentials', resource: RESOURCE, scope: 'mcp:read' }, auth)).body.access_token as string;
    const { next } = await read();
    const revoked: string[] = [];
    for (let i = 0; i < MAX_TOKEN_ENTRIES_PER_SUBJECT + 1; i++) {
      const token = await askToken();
      assert.equal(decodeJwt(token).sub, service.clientId);
      assert.equal((await revoke({ token }, auth)).status, 200);
      revoked.push(token);
    }
    const page = await read(`?after=${next}`);
    assert.deepEqual(page.entries.map((e) => [e.kind, e.kind === 'client_sub' ? e.value : '']).sort(),
      [...Array<string[]>(MAX_TOKEN_ENTRIES_PER_SUBJECT).fill(['token', '']), ['client_sub', revocationValue('client_sub', `${service.clientId} ${service.clientId}`)]].sort());
    const list = new RevocationList();
    list.apply(page.entries);
    for (const [i, token] of revoked.entries()) assert.ok(list.refuses(match(token)), `revoked token ${i + 1} is refused`);
    const lastIat = decodeJwt(revoked.at(-1)!).iat!;
    await waitFor('the second after the last revoked token', () => Math.floor(Date.now() / 1000) > lastIat);
    assert.equal(list.refuses(match(await askToken())), undefined, 'a token issued after the last revoked one works');
  });

  test("another client's JWT access token: a public client gets 200 and nothing changes, a confidential one is told it may not", async () => {
    const owner = await registerClient(server.issuer);
    const tokens = await redeem(server.issuer, owner, await connect(server.issuer, {
      clientId: owner.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD,
    }));
    const accessToken = tokens.body.access_token as string;
    const publicOther = await registerClient(server.issuer);
    const confidentialOther = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_post' });
    const { next } = await read();
    assert.equal((await revoke({ token: accessToken, client_id: publicOther.client_id })).status, 200);
    const told = await revoke({ token: accessToken, client_id: confidentialOther.client_id, client_secret: confidentialOther.client_secret! });
    assert.equal(told.status, 400);
    assert.equal(((await told.json()) as { error: string }).error, 'invalid_request');
    const wrongSecret = await revoke({ token: accessToken, client_id: confidentialOther.client_id, client_secret: 'wrong' });
    assert.equal(wrongSecret.status, 401, 'client authentication still comes first');
    assert.deepEqual((await read(`?after=${next}`)).entries, [], 'nothing was revoked');
  });

  test('a JWT that is not one of ours gets the ordinary 200 and changes nothing (RFC 7009 §2.2)', async () => {
    const client = await registerClient(server.issuer);
    const { privateKey } = await generateKeyPair('RS256');
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ client_id: client.client_id, scope: 'mcp:read', jti: 'forged-jti', sub: 'x' })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'not-ours' }).setIssuer(server.issuer).setIssuedAt(now).setExpirationTime(now + 600).sign(privateKey);
    const { next } = await read();
    assert.equal((await revoke({ token: forged, client_id: client.client_id })).status, 200);
    assert.equal((await revoke({ token: 'eyJhbGciOiJSUzI1NiJ9.e30.', client_id: client.client_id })).status, 200);
    assert.deepEqual((await read(`?after=${next}`)).entries, []);
  });

  test('disabling a user publishes the user (hashed) and each of their grants; deleting a client publishes the client', async () => {
    const bob = (await server.auth.admin.users.create({ username: 'bob', password: 'bob password 12345', scopes: ['mcp:read'] }, BY))!;
    const client = await registerClient(server.issuer);
    await redeem(server.issuer, client, await connect(server.issuer, {
      clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'bob', password: 'bob password 12345',
    }));
    const { next } = await read();
    await server.auth.admin.users.disable('bob', BY);
    const disabled = await read(`?after=${next}`);
    assert.deepEqual(disabled.entries.map((e) => e.kind).sort(), ['grant', 'sub']);
    assert.equal(disabled.entries.find((e) => e.kind === 'sub')!.value, revocationValue('sub', bob.id));
    assert.ok(!JSON.stringify(disabled).includes(bob.id));

    await server.auth.admin.clients.remove(client.client_id, BY);
    const deleted = await read(`?after=${disabled.next}`);
    assert.deepEqual(deleted.entries.map((e) => [e.kind, e.value]), [['client', revocationValue('client', client.client_id)]]);
  });

  test('retiring a key publishes its kid; rotating tells verifiers to reload the key set', async () => {
    const { next } = await read();
    const active = await server.auth.admin.keys.rotate(BY);
    const rotated = await read(`?after=${next}`);
    assert.deepEqual(rotated.entries.map((e) => e.kind), ['keys']);
    const retiring = (await server.auth.admin.keys.list()).find((k) => k.status === 'retiring')!;
    await server.auth.admin.keys.retire(retiring.kid, { force: true }, BY);
    const retired = await read(`?after=${rotated.next}`);
    assert.deepEqual(retired.entries.map((e) => [e.kind, e.value]), [['kid', retiring.kid]]);
    assert.notEqual(retiring.kid, active.kid);
  });

  test('an entry lives for the token lifetime plus a minute and refuses tokens issued up to its creation (a user\'s and a client\'s, a few seconds more)', async () => {
    const before = Math.floor(Date.now() / 1000);
    await server.auth.admin.revocations.revokeClient('some-client');
    const entry = (await read()).entries.at(-1)!;
    // A token request in flight (its client read before the change) may sign seconds later.
    assert.ok(entry.issued_before >= before + CLIENT_AFTER_SECONDS && entry.issued_before <= before + CLIENT_AFTER_SECONDS + 1);
    assert.equal(entry.expires_at, entry.issued_before - CLIENT_AFTER_SECONDS + server.config.authServer.accessTokenTtl + 60);
    await server.auth.admin.revocations.revokeSubject('someone');
    const subject = (await read()).entries.at(-1)!;
    assert.equal(subject.issued_before, subject.expires_at - server.config.authServer.accessTokenTtl - 60 + SUBJECT_AFTER_SECONDS);
  });

  test('pages: limit, next and complete let a follower read everything in order', async () => {
    for (let i = 0; i < 3; i++) await server.auth.admin.revocations.revokeClient(`paging-${i}`);
    const all = await read();
    const seen: number[] = [];
    let after = 0;
    for (;;) {
      const page = await read(`?after=${after}&limit=2`);
      assert.ok(page.entries.length <= 2);
      seen.push(...page.entries.map((e) => e.seq));
      after = page.next;
      if (page.complete) break;
    }
    assert.deepEqual(seen, all.entries.map((e) => e.seq));
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
    assert.equal(all.feed, (await read(`?after=${after}`)).feed, 'one feed id');
  });

  const badQueries = ['?after=-1', '?after=abc', '?after=1.5', '?after=99999999999999999999', '?limit=0', '?limit=x', '?after=1&after=2', '?after=%00'];
  for (const query of badQueries) {
    test(`refuses ${query} with 400 invalid_request`, async () => {
      const response = await fetch(feedUrl(query));
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_request');
    });
  }

  test('answers other methods with 405 and Allow', async () => {
    const response = await fetch(feedUrl(), { method: 'POST', body: 'x' });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'GET, HEAD');
  });
});

describe("the resource server's RevocationList", () => {
  const token = (clientId: string, sub: string, issuedAt: number) => tokenMatch({ sub, clientId, grantId: `grant-of-${clientId}`, jti: `jti-${clientId}-${sub}-${issuedAt}`, kid: 'kid-1', issuedAt });

  test("a client_sub entry refuses that client's tokens of that account issued up to it, and not another client's or another account's", () => {
    const list = new RevocationList();
    list.apply([{ seq: 1, kind: 'client_sub', value: revocationValue('client_sub', 'looping-agent user-1'), issued_before: 1000, expires_at: 2000 }]);
    assert.equal(list.refuses(token('looping-agent', 'user-1', 1000)), 'client_sub');
    assert.equal(list.refuses(token('looping-agent', 'user-1', 1001)), undefined, 'a token issued after the cut-off');
    assert.equal(list.refuses(token('other-app', 'user-1', 1000)), undefined, "the account's other app");
    assert.equal(list.refuses(token('looping-agent', 'user-2', 1000)), undefined, "the client's token of another account");
  });
});
