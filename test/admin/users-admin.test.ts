/**
 * The users pages over HTTP, as an admin uses them: create, search, scopes, password, disable,
 * enable, approve; and the guards that keep admins from locking themselves out.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { Browser, PageResult } from '../helpers/browser.ts';
import { refresh, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { auditEvents, connectAs, createUser, csrfOf, grantIdOf, post, saveScopes, signInAt } from './support/admin-browser.ts';
import type { ChangedBy } from '../../apps/auth-server/src/management/admin-actor.ts';
import type { AdminError } from '../../apps/auth-server/src/management/admin-error.ts';
import { isAdmin } from '../../apps/auth-server/src/management/user-admin.ts';

describe('admin pages: users', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  let admin: { browser: Browser; page: PageResult };

  before(async () => {
    server = await startAuthServer();
    client = await registerClient(server.issuer);
    admin = await signInAt(server, 'admin', ADMIN_PASSWORD, '/admin/users');
  });
  after(async () => {
    await server?.close();
  });

  const usersPage = () => admin.browser.navigate('/admin/users');
  const userPage = (id: string) => admin.browser.navigate(`/admin/users/${id}`);

  test('creating a user with scopes: they can sign in and their tokens carry at most those scopes', async () => {
    const page = await post(admin.browser, await usersPage(), '/admin/users', { username: 'dana', password: 'dana password 123', scope: ['mcp:read', 'mcp:write'] });
    assert.equal(page.status, 200);
    assert.match(page.url, /\/admin\/users\/[0-9a-f-]{36}\?notice=user_created$/);
    assert.match(page.html, /The user was created\./);
    const dana = (await server.auth.users.findByUsername('dana'))!;
    assert.deepEqual(dana.scopes, ['mcp:read', 'mcp:write']);
    const { accessToken } = await connectAs(server, client, 'dana', 'dana password 123', 'mcp:read mcp:write mcp:admin');
    assert.equal(decodeJwt(accessToken).scope, 'mcp:read mcp:write');
    const [event] = (await auditEvents(server, 'user.created'));
    assert.equal(event!.actor, 'admin');
    assert.equal(event!.details.username, 'dana');
  });

  const refusals: Array<[string, Record<string, string | string[]>, number, RegExp]> = [
    ['a taken username', { username: 'admin', password: 'long enough password', scope: 'mcp:read' }, 409, /already exists/],
    ['a name with spaces', { username: 'two words', password: 'long enough password', scope: 'mcp:read' }, 400, /Usernames are 1 to 64/],
    // Such a name could be another user's id where users are named by id or username (the ?user= filters, the CLI).
    ['a name in the form of a user id', { username: '0f8fad5b-d9cb-469f-a165-70867728950e', password: 'long enough password', scope: 'mcp:read' }, 400, /A username cannot have the form of a user id/],
    ['the name the audit log gives a service account', { username: 'service', password: 'long enough password', scope: 'mcp:read' }, 400, /A username cannot be a name the audit log gives what is not a user/],
    ['the name the audit log gives an anonymous caller, in capitals and padded', { username: ' ANONYMOUS ', password: 'long enough password', scope: 'mcp:read' }, 400, /A username cannot be a name the audit log gives what is not a user/],
    ['a name in the form of a user id, upper case and padded', { username: ' 0F8FAD5B-D9CB-469F-A165-70867728950E ', password: 'long enough password', scope: 'mcp:read' }, 400, /A username cannot have the form of a user id/],
    ['a short password', { username: 'shorty', password: 'short', scope: 'mcp:read' }, 400, /at least 12 characters/],
    ['a password over 72 bytes', { username: 'longy', password: 'ü'.repeat(37), scope: 'mcp:read' }, 400, /limited to 72 bytes/],
    ['an unknown scope', { username: 'scopey', password: 'long enough password', scope: 'mcp:everything' }, 400, /Unknown scope mcp:everything/],
  ];
  for (const [what, fields, status, message] of refusals) {
    test(`creating a user is refused with a clear message: ${what}`, async () => {
      const page = await post(admin.browser, await usersPage(), '/admin/users', fields);
      assert.equal(page.status, status);
      assert.match(page.html, message);
      if (fields.username !== 'admin') assert.equal(await server.auth.users.findByUsername(String(fields.username).trim()), undefined);
    });
  }

  test('search finds users by part of the name or email, and escapes what it shows', async () => {
    await server.auth.users.create({ username: 'erin@example.com', passwordHash: null, scopes: ['mcp:read'], email: 'erin@example.com', source: 'federated' });
    const found = await admin.browser.navigate('/admin/users?q=ERIN');
    assert.match(found.html, /erin@example\.com/);
    assert.doesNotMatch(found.html, />admin<\/a>/);
    const none = await admin.browser.navigate(`/admin/users?q=${encodeURIComponent('<script>%_')}`);
    assert.match(none.html, /No user matches/);
    assert.match(none.html, /value="&lt;script&gt;%_"/);
    assert.doesNotMatch(none.html, /<script>/);
  });

  test('removing a scope disconnects the apps that hold it; the user reconnects with what remains', async () => {
    const id = await createUser(server, 'frank', 'frank password 12', ['mcp:read', 'mcp:write']);
    const writer = await connectAs(server, client, 'frank', 'frank password 12', 'mcp:read mcp:write');
    const otherClient = await registerClient(server.issuer);
    const reader = await connectAs(server, otherClient, 'frank', 'frank password 12', 'mcp:read');
    const page = await saveScopes(admin.browser, await userPage(id), `/admin/users/${id}/scopes`, 'mcp:read');
    assert.match(page.html, /The scopes were saved/);
    assert.deepEqual((await server.auth.users.findById(id))!.scopes, ['mcp:read']);
    assert.equal((await refresh(server.issuer, client, writer.refreshToken)).status, 400, 'the grant holding mcp:write is revoked');
    assert.equal((await refresh(server.issuer, otherClient, reader.refreshToken)).status, 200, 'the read-only grant is kept');
    const again = await connectAs(server, client, 'frank', 'frank password 12', 'mcp:read mcp:write');
    assert.equal(decodeJwt(again.accessToken).scope, 'mcp:read');
  });

  test('a page opened before another admin took a scope away cannot put it back: refused, nothing changed, the boxes show the scopes as they are', async () => {
    await createUser(server, 'third-admin', 'third admin password', ['mcp:read', 'mcp:admin']);
    const mallory = await createUser(server, 'mallory', 'mallory password 12', ['mcp:read', 'mcp:write', 'mcp:admin']);
    const second = await signInAt(server, 'third-admin', 'third admin password', `/admin/users/${mallory}`);
    // The first admin answers an incident: mallory loses mcp:admin and mcp:write.
    assert.match((await saveScopes(admin.browser, await userPage(mallory), `/admin/users/${mallory}/scopes`, ['mcp:read'])).html, /The scopes were saved/);
    const changes = async () => (await auditEvents(server, 'user.scopes_changed')).filter((e) => e.details.user_id === mallory);
    assert.equal((await changes()).length, 1);

    // The second admin, on the page opened before (all three ticked), unticks only mcp:write.
    const stale = await saveScopes(second.browser, second.page, `/admin/users/${mallory}/scopes`, ['mcp:read', 'mcp:admin']);
    assert.equal(stale.status, 409);
    assert.match(stale.html, /id="setUserScopes-shown_scopes-error">The scopes of mallory changed since the page was opened \(now: mcp:read\); nothing was saved\./);
    assert.deepEqual((await server.auth.users.findById(mallory))!.scopes, ['mcp:read']);
    assert.equal((await changes()).length, 1, 'nothing audited');
    const ticked = [...stale.html.matchAll(/name="scope" value="([^"]+)" checked/g)].map((m) => m[1]);
    assert.deepEqual(ticked, ['mcp:read'], 'the boxes show the scopes as they are now, not as submitted');

    // From the page as it is now, the second admin's choice is saved, starting from what was there.
    assert.match((await saveScopes(second.browser, stale, `/admin/users/${mallory}/scopes`, ['mcp:read', 'mcp:write'])).html, /The scopes were saved/);
    assert.deepEqual((await changes())[0]!.details.from, ['mcp:read']);
    // A form without the scopes its page showed (an old page, a script) changes nothing either.
    const blind = await post(second.browser, await second.browser.navigate(`/admin/users/${mallory}`), `/admin/users/${mallory}/scopes`, { scope: ['mcp:read', 'mcp:admin'] });
    assert.equal(blind.status, 400);
    assert.deepEqual((await server.auth.users.findById(mallory))!.scopes, ['mcp:read', 'mcp:write']);
  });

  test('a new password works at once, the old one no longer does, and the user\'s sessions end', async () => {
    const id = await createUser(server, 'gina', 'gina old password', ['mcp:read']);
    const { browser } = await signInAt(server, 'gina', 'gina old password', '/account');
    const page = await post(admin.browser, await userPage(id), `/admin/users/${id}/password`, { password: 'gina new password' });
    assert.match(page.html, /The password was changed/);
    assert.equal((await browser.request('/account')).status, 303, 'her browser session was ended');
    await connectAs(server, client, 'gina', 'gina new password');
    await assert.rejects(connectAs(server, client, 'gina', 'gina old password'), /expected a redirect to the client/);
    const refused = await post(admin.browser, await userPage(id), `/admin/users/${id}/password`, { password: 'x'.repeat(73) });
    assert.equal(refused.status, 400);
    assert.match(refused.html, /limited to 72 bytes/);
  });

  test('an admin who changes their own password keeps this session and every other session of theirs ends', async () => {
    const id = await createUser(server, 'jess-admin', 'jess old password', ['mcp:read', 'mcp:admin']);
    const a = await signInAt(server, 'jess-admin', 'jess old password', `/admin/users/${id}`);
    const b = await signInAt(server, 'jess-admin', 'jess old password', '/account');
    const page = await post(a.browser, a.page, `/admin/users/${id}/password`, { password: 'jess new password' });
    assert.match(page.html, /The password was changed/);
    assert.equal((await b.browser.request('/account')).status, 303, 'the other browser (say, an attacker\'s) is sent to sign in');
    assert.equal((await b.browser.request('/admin')).status, 303);
    assert.equal((await a.browser.request(`/admin/users/${id}`)).status, 200, 'the browser that made the change stays signed in');
    const [event] = (await auditEvents(server, 'user.password_reset')).filter((e) => e.details.user_id === id);
    assert.equal(event!.details.sessions_ended, 1);
  });

  test('disabling a user revokes every grant (refresh stops at once) and sign-in; enabling lets them back', async () => {
    const id = await createUser(server, 'hank', 'hank password 12', ['mcp:read']);
    const tokens = await connectAs(server, client, 'hank', 'hank password 12');
    const page = await post(admin.browser, await userPage(id), `/admin/users/${id}/disable`);
    assert.match(page.html, /The user was disabled/);
    assert.match(page.html, /badge warn">disabled/);
    const refreshed = await refresh(server.issuer, client, tokens.refreshToken);
    assert.equal(refreshed.status, 400);
    assert.equal(refreshed.body.error, 'invalid_grant');
    await assert.rejects(connectAs(server, client, 'hank', 'hank password 12'), /expected a redirect to the client/);
    const revoked = (await auditEvents(server, 'grant.revoked')).filter((e) => e.details.account_id === id);
    assert.equal(revoked.length, 1);
    assert.equal(revoked[0]!.details.reason, 'user disabled');

    await post(admin.browser, await userPage(id), `/admin/users/${id}/enable`);
    assert.equal((await server.auth.users.findById(id))!.disabled, false);
    await connectAs(server, client, 'hank', 'hank password 12');
  });

  test('a pending federated user is listed for approval, and can get tokens once approved', async () => {
    const ivy = (await server.auth.users.create({ username: 'ivy@example.com', passwordHash: await server.auth.hasher.hash('ivy password 123'), scopes: ['mcp:read'], pending: true, source: 'federated' }))!;
    const list = await usersPage();
    assert.match(list.html, /Waiting for approval/);
    assert.match(list.html, /Approve ivy@example\.com/);
    await assert.rejects(connectAs(server, client, 'ivy@example.com', 'ivy password 123'), /expected a redirect/);
    const page = await post(admin.browser, list, `/admin/users/${ivy.id}/approve`);
    assert.match(page.html, /The user was approved/);
    await connectAs(server, client, 'ivy@example.com', 'ivy password 123');
  });

  test('an admin cannot disable themselves or drop their own mcp:admin; another admin can, unless it is the last one', async () => {
    const self = (await server.auth.users.findByUsername('admin'))!;
    const disable = await saveScopes(admin.browser, await userPage(self.id), `/admin/users/${self.id}/scopes`, ['mcp:read']);
    assert.equal(disable.status, 409);
    assert.match(disable.html, /You cannot remove mcp:admin from yourself/);
    const selfPage = await userPage(self.id);
    assert.doesNotMatch(selfPage.html, /\/disable"/, 'no disable button on your own page');
    const direct = await admin.browser.submit(`/admin/users/${self.id}/disable`, { csrf: csrfOf(selfPage, `/admin/users/${self.id}/scopes`) }, selfPage.url);
    assert.equal(direct.status, 409);
    assert.equal((await server.auth.users.findById(self.id))!.disabled, false);

    const otherId = await createUser(server, 'second-admin', 'second admin pass', ['mcp:read', 'mcp:admin']);
    const other = await signInAt(server, 'second-admin', 'second admin pass', `/admin/users/${self.id}`);
    const demoted = await saveScopes(other.browser, other.page, `/admin/users/${self.id}/scopes`, ['mcp:read']);
    assert.match(demoted.html, /The scopes were saved/);
    // second-admin is now the only admin, and cannot remove its own mcp:admin either.
    const last = await saveScopes(other.browser, await other.browser.navigate(`/admin/users/${otherId}`), `/admin/users/${otherId}/scopes`, ['mcp:read']);
    assert.equal(last.status, 409);
    await server.auth.users.update(self.id, { scopes: ['mcp:read', 'mcp:write', 'mcp:admin'] });
  });
});

for (const backend of TEST_BACKENDS) {
  describe(`two admins changing one user at the same moment (${backend})`, () => {
    let server: TestAuthServer;
    before(async () => {
      server = await startAuthServer({ backend });
    });
    after(async () => {
      await server?.close();
    });

    /**
     * Two admins, each disabling (or demoting) the other at once, as two replicas would serve them
     * (two transactions at once, on two connections on PostgreSQL): exactly one change is made, and
     * the other is refused with nothing of it written (no audit record, no feed entry).
     */
    async function eachAtOnce(change: (target: string, by: ChangedBy) => Promise<unknown>, event: string) {
      const users = server.auth.users;
      const adminNamed = async (name: string) => {
        const user = (await users.findByUsername(name)) ?? (await users.create({ username: name, passwordHash: null, scopes: [] }))!;
        return (await users.update(user.id, { scopes: ['mcp:read', 'mcp:admin'], disabled: false }))!;
      };
      const [alice, bob] = [await adminNamed('alice'), await adminNamed('bob')];
      // The bootstrap admin steps aside: alice and bob are the only admins.
      await users.update((await users.findByUsername('admin'))!.id, { scopes: ['mcp:read'] });
      const eventsBefore = (await auditEvents(server, event)).length;
      const results = await Promise.allSettled([
        change('bob', { actor: { name: 'alice', id: alice.id } }),
        change('alice', { actor: { name: 'bob', id: bob.id } }),
      ]);
      const refusals = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as AdminError).error_description)] : []));
      assert.equal(refusals.length, 1, `one change made, one refused: ${results.map((r) => r.status).join(', ')}`);
      assert.match(refusals[0]!, /last active administrator/);
      const kept = results[0]!.status === 'rejected' ? bob : alice;
      assert.deepEqual((await users.list()).filter(isAdmin).map((u) => u.username), [kept.username]);
      assert.equal((await auditEvents(server, event)).length, eventsBefore + 1, 'the refused change left no audit record');
      if (event === 'user.disabled') {
        const now = Math.floor(Date.now() / 1000);
        const refused = await server.auth.admin.revocations.refuses({ sub: kept.id, clientId: 'any', grantId: 'any', jti: 'any', kid: 'any', iat: now - 5 });
        assert.equal(refused, false, 'nor a feed entry refusing the tokens of the admin it was about');
      }
    }

    test('disabling: exactly one stays an active admin', async () => {
      await eachAtOnce((target, by) => server.auth.admin.users.disable(target, by), 'user.disabled');
    });

    test('removing mcp:admin: exactly one keeps it', async () => {
      await eachAtOnce((target, by) => server.auth.admin.users.setScopes(target, ['mcp:read'], by), 'user.scopes_changed');
    });

    // Each change is decided on the user's row read inside its transaction, locked on PostgreSQL.
    test('two scopes changes at once: each audit record starts where the other ended', async () => {
      const users = server.auth.admin.users;
      const id = (await server.auth.users.create({ username: 'xena', passwordHash: null, scopes: ['mcp:read', 'mcp:write'] }))!.id;
      await Promise.all([
        users.setScopes({ id }, ['mcp:read'], { actor: { name: 'a1' } }),
        users.setScopes({ id }, ['mcp:read', 'mcp:write', 'mcp:admin'], { actor: { name: 'a2' } }),
      ]);
      const events = (await auditEvents(server, 'user.scopes_changed')).filter((e) => e.details.user_id === id);
      const first = events.find((e) => JSON.stringify(e.details.from) === JSON.stringify(['mcp:read', 'mcp:write']));
      const then = events.find((e) => e !== first);
      assert.ok(first && then && events.length === 2, JSON.stringify(events.map((e) => e.details)));
      assert.deepEqual(then.details.from, first.details.to);
      assert.deepEqual((await server.auth.users.findById(id))!.scopes, then.details.to);
    });

    test('two pages that showed the same scopes, saved at once: one is saved, the other refused with nothing changed', async () => {
      const users = server.auth.admin.users;
      const id = (await server.auth.users.create({ username: 'yusuf', passwordHash: null, scopes: ['mcp:read', 'mcp:write'] }))!.id;
      const shown = ['mcp:read', 'mcp:write'];
      const results = await Promise.allSettled([
        users.setScopes({ id }, ['mcp:read'], { actor: { name: 'a1' } }, shown),
        users.setScopes({ id }, ['mcp:read', 'mcp:write', 'mcp:admin'], { actor: { name: 'a2' } }, shown),
      ]);
      const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as AdminError] : []));
      assert.equal(refused.length, 1, results.map((r) => r.status).join(', '));
      assert.equal(refused[0]!.status, 409);
      assert.match(refused[0]!.error_description!, /The scopes of yusuf changed since the page was opened/);
      const saved = results[0]!.status === 'fulfilled' ? ['mcp:read'] : ['mcp:read', 'mcp:write', 'mcp:admin'];
      assert.deepEqual((await server.auth.users.findById(id))!.scopes, saved);
      assert.equal((await auditEvents(server, 'user.scopes_changed')).filter((e) => e.details.user_id === id).length, 1);
    });

    test('a save refused because another landed after its first read of the user leaves the user\'s grants alive', async () => {
      const users = server.auth.admin.users;
      const id = await createUser(server, 'zoe', 'zoe password 123', ['mcp:read', 'mcp:write']);
      const client = await registerClient(server.issuer);
      const writer = await connectAs(server, client, 'zoe', 'zoe password 123', 'mcp:read mcp:write');
      const shown = ['mcp:read', 'mcp:write'];
      // The other admin's save commits right after this save's unlocked read of the user, before
      // its locked one: the moment two saves at once can meet, made certain.
      const store = server.auth.users;
      const findStored = store.findStored.bind(store);
      store.findStored = async (userId, tx) => {
        const read = await findStored(userId, tx);
        if (userId === id && tx === undefined) {
          store.findStored = findStored;
          await users.setScopes({ id }, ['mcp:read', 'mcp:write', 'mcp:admin'], { actor: { name: 'a2' } }, shown);
        }
        return read;
      };
      try {
        await assert.rejects(users.setScopes({ id }, ['mcp:read'], { actor: { name: 'a1' } }, shown), (err: AdminError) => {
          assert.equal(err.status, 409);
          assert.match(err.error_description!, /The scopes of zoe changed since the page was opened \(now: mcp:read mcp:write mcp:admin\); nothing was saved/);
          return true;
        });
      } finally {
        store.findStored = findStored;
      }
      assert.deepEqual((await store.findById(id))!.scopes, ['mcp:read', 'mcp:write', 'mcp:admin']);
      assert.equal((await auditEvents(server, 'grant.revoked')).filter((e) => e.details.account_id === id).length, 0, 'no grant revoked');
      assert.equal((await refresh(server.issuer, client, writer.refreshToken)).status, 200, 'the grant holding mcp:write still refreshes');
    });

    /**
     * A scope removed from a user who holds it in two grants, while the client ends the second of
     * them (/oauth/revoke of its refresh token, RFC 7009) at that moment. Ending a grant deletes its
     * rows and then takes the revocation feed's lock (held to the commit); the save must not take
     * the feed's lock before it has the rows of every grant it revokes, or the two wait for each
     * other and PostgreSQL fails one of them (a deadlock: the revocation answered 500).
     */
    // Row and advisory locks are PostgreSQL's: SQLite has one writer at a time.
    if (backend === 'postgres') test('removing a scope held by two grants while the client revokes one of them: both succeed', async () => {
      const id = await createUser(server, 'yann', 'yann password 123', ['mcp:read', 'mcp:write']);
      const refreshTokens = new Map<string, { token: string; client: RegisteredClient }>();
      for (let i = 0; i < 2; i += 1) {
        const client = await registerClient(server.issuer);
        const { refreshToken } = await connectAs(server, client, 'yann', 'yann password 123', 'mcp:read mcp:write');
        refreshTokens.set(await grantIdOf(server, refreshToken), { token: refreshToken, client });
      }
      const feed = server.auth.admin.revocations;
      const revokeGrant = feed.revokeGrant.bind(feed);
      let clientRevoke: Promise<Response> | undefined;
      feed.revokeGrant = async (grantId, tx) => {
        await revokeGrant(grantId, tx);
        if (clientRevoke || !tx) return;
        // The save's first feed entry is written: the client now ends the other grant, and the save
        // goes on once that request waits for a lock (or is done).
        const [other] = [...refreshTokens].filter(([otherId]) => otherId !== grantId);
        const { token, client } = other![1];
        let settled = false;
        clientRevoke = fetch(`${server.issuer}/oauth/revoke`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token, token_type_hint: 'refresh_token', client_id: client.client_id }),
        }).finally(() => (settled = true));
        for (let i = 0; i < 2000 && !settled; i += 1) {
          const waiting = await server.auth.database.get<{ n: number }>('SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted');
          if (waiting!.n > 0) break;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      };
      try {
        const saved = await server.auth.admin.users.setScopes({ id }, ['mcp:read'], { actor: { name: 'admin' } }, ['mcp:read', 'mcp:write']);
        assert.ok(saved.grantsRevoked >= 1, 'the save revoked the grants holding mcp:write');
      } finally {
        feed.revokeGrant = revokeGrant;
      }
      const revoked = await clientRevoke!;
      assert.equal(revoked.status, 200, `the client's revocation: ${await revoked.text()}`);
      assert.deepEqual(await server.auth.admin.grants.list({ accountId: id }), [], 'both grants are gone');
    });
  });
}
