/**
 * Renaming a user: on the user's admin page (the CLI's `users rename` is test/cli/users-rename),
 * and in the user store, where the name's uniqueness is the database's to keep, on both engines
 * and between replicas. A built-in user signs in with the new name and keeps their apps; a name
 * stored before the username rules is flagged on the users list and the user's page, and replaced
 * this way.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { UserStore } from '../../apps/auth-server/src/accounts/user-store.ts';
import type { AdminError } from '../../apps/auth-server/src/management/admin-error.ts';
import { isUniqueViolation } from '../../apps/shared/storage/sql-database.ts';
import type { Browser, PageResult } from '../helpers/browser.ts';
import { openAuthDatabase, type TestAuthDatabase } from '../helpers/open-auth-database.ts';
import { refresh, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { auditEvents, connectAs, createUser, csrfOf, post, signInAt } from './support/admin-browser.ts';

describe('admin pages: renaming a user', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  let admin: { browser: Browser; page: PageResult };

  before(async () => {
    server = await startAuthServer({
      configure(config) {
        // A config file that names users names the administrator too (no bootstrap admin then).
        config.authServer.users = [
          { username: 'admin', password: ADMIN_PASSWORD, scopes: ['mcp:read', 'mcp:write', 'mcp:admin'], disabled: false },
          { username: 'reader', password: 'reader password 12', scopes: ['mcp:read'], disabled: false },
        ];
      },
    });
    client = await registerClient(server.issuer);
    admin = await signInAt(server, 'admin', ADMIN_PASSWORD, '/admin/users');
  });
  after(async () => {
    await server?.close();
  });

  const userPage = (id: string) => admin.browser.navigate(`/admin/users/${id}`);
  const rename = async (id: string, username: string) => post(admin.browser, await userPage(id), `/admin/users/${id}/rename`, { username });

  /** A user row as a version before the username rules could have written it. */
  async function insertLegacyUser(username: string): Promise<string> {
    const id = randomUUID();
    await server.auth.database.run(`INSERT INTO users (id, username, password_hash, scopes, disabled, pending, email, source, created_at, updated_at)
      VALUES (@id, @username, NULL, 'mcp:read', 0, 0, NULL, 'builtin', @now, @now)`, { id, username, now: Date.now() });
    return id;
  }

  test('a renamed user signs in with the new name only, and keeps the apps connected before', async () => {
    const id = await createUser(server, 'bob', 'bob password 123', ['mcp:read']);
    const before = await connectAs(server, client, 'bob', 'bob password 123');
    const page = await rename(id, ' bob.smith ');
    assert.equal(page.status, 200);
    assert.match(page.url, new RegExp(`/admin/users/${id}\\?notice=user_renamed$`));
    assert.match(page.html, /The user was renamed\./);
    assert.match(page.html, /<h1>bob\.smith<\/h1>/);
    assert.equal((await server.auth.users.findByUsername('bob.smith'))?.id, id);
    assert.equal(await server.auth.users.findByUsername('bob'), undefined);
    await assert.rejects(connectAs(server, client, 'bob', 'bob password 123'), 'the old name no longer signs in');
    const after = await connectAs(server, client, 'bob.smith', 'bob password 123');
    assert.equal(decodeJwt(after.accessToken).sub, id, 'the same user, by id');
    assert.equal(decodeJwt(after.accessToken).preferred_username, 'bob.smith');
    const refreshed = await refresh(server.issuer, client, before.refreshToken);
    assert.equal(refreshed.status, 200, 'the app connected before the rename still refreshes');
    const [event] = await auditEvents(server, 'user.renamed');
    assert.equal(event!.actor, 'admin');
    assert.deepEqual([event!.details.user_id, event!.details.from, event!.details.to], [id, 'bob', 'bob.smith']);
  });

  test('a change of case only is a rename; the same name changes nothing', async () => {
    const id = await createUser(server, 'carol', 'carol password 12', ['mcp:read']);
    const cased = await rename(id, 'Carol');
    assert.match(cased.url, /notice=user_renamed$/);
    assert.equal((await server.auth.users.findById(id))?.username, 'Carol');
    const same = await rename(id, 'Carol');
    assert.match(same.url, /notice=user_not_renamed$/);
    assert.match(same.html, /The user already has that name; nothing changed\./);
    assert.equal((await auditEvents(server, 'user.renamed')).filter((e) => e.details.user_id === id).length, 1);
  });

  const refusals: Array<[string, string, number, RegExp]> = [
    ['the name of another user', 'admin', 409, /A user named admin already exists\./],
    ['the name of another user, in another case', 'ADMIN', 409, /A user named ADMIN already exists\./],
    ['a name with a space', 'two words', 400, /Usernames are 1 to 64 letters/],
    ['a name of 65 characters', 'a'.repeat(65), 400, /Usernames are 1 to 64 letters/],
    ['a name in the form of a user id', '0f8fad5b-d9cb-469f-a165-70867728950e', 400, /A username cannot have the form of a user id/],
    ['the name the audit log gives the config file', 'config', 400, /A username cannot be a name the audit log gives what is not a user/],
    ['the name the audit log gives the server itself, capitalised', 'System', 400, /A username cannot be a name the audit log gives what is not a user/],
    ['a right-to-left override', 'eve\u202enimda', 400, /Usernames are 1 to 64 letters/],
    ['nothing', '   ', 400, /A new username is required\./],
  ];
  for (const [what, username, status, message] of refusals) {
    test(`a rename to ${what} is refused, next to the field, and changes nothing`, async () => {
      const id = await createUser(server, `keep-${randomUUID().slice(0, 8)}`, 'keep password 12', ['mcp:read']);
      const name = (await server.auth.users.findById(id))!.username;
      const page = await rename(id, username);
      assert.equal(page.status, status);
      assert.match(page.html, /id="renameUser-username-error"/);
      assert.match(page.html, message);
      assert.equal((await server.auth.users.findById(id))?.username, name);
    });
  }

  test('a user from the config file is renamed there: the page says so and offers no form; a posted rename is refused', async () => {
    const reader = (await server.auth.users.findByUsername('reader'))!;
    const page = await userPage(reader.id);
    assert.match(page.html, /The config file names this user; rename it there, then restart\./);
    assert.doesNotMatch(page.html, /action="\/admin\/users\/[^"]+\/rename"/);
    // The token of another form on the page: the one a crafted form would carry.
    const csrf = csrfOf(page, `/admin/users/${reader.id}/scopes`);
    const refused = await admin.browser.submit(`/admin/users/${reader.id}/rename`, { csrf, username: 'reader2' }, page.url);
    assert.equal(refused.status, 409);
    assert.match(refused.html, /Not saved: reader comes from the config file; rename it there, then restart\./);
    assert.equal((await server.auth.users.findById(reader.id))?.username, 'reader');
  });

  test('a name with a steering character, stored before the rules, is flagged on the page and renamed away', async () => {
    const id = await insertLegacyUser('eve\u202enimda');
    const badge = (html: string, userId: string) => new RegExp(`href="/admin/users/${userId}">[^<]*</a> <span class="badge warn needs-renaming"`).test(html);
    assert.ok(badge((await admin.browser.navigate('/admin/users')).html, id), 'the users list flags the name');
    const flagged = await userPage(id);
    assert.match(flagged.html, /id="name-needs-renaming"[^>]*>This username was stored before today's username rules: it holds characters that steer how text is shown/);
    const renamed = await rename(id, 'eve');
    assert.match(renamed.url, /notice=user_renamed$/);
    assert.doesNotMatch(renamed.html, /name-needs-renaming/);
    const plain = await userPage((await createUser(server, 'plain', 'plain password 12', ['mcp:read'])));
    assert.doesNotMatch(plain.html, /name-needs-renaming/, 'a name under the rules is not flagged');
    const list = (await admin.browser.navigate('/admin/users')).html;
    assert.ok(!badge(list, id), 'the list no longer flags the renamed user');
    assert.ok(!list.includes('needs-renaming'), 'nor anyone else here: every other name follows the rules');
  });

  test('an actor\'s name stored before the rule is flagged on the page and renamed away', async () => {
    const id = await insertLegacyUser('config');
    const flagged = await userPage(id);
    assert.match(flagged.html, /id="name-needs-renaming"[^>]*>This username was stored before today's username rules: it is a name the audit log gives what is not a user/);
    const renamed = await rename(id, 'config-admin');
    assert.match(renamed.url, /notice=user_renamed$/);
    assert.doesNotMatch(renamed.html, /name-needs-renaming/);
  });

  test('a name in the form of another user\'s id is flagged, and renaming it ends the doubt over what that text names', async () => {
    const victim = await createUser(server, 'victim', 'victim password 12', ['mcp:read']);
    const shadow = await insertLegacyUser(victim);
    assert.match((await admin.browser.navigate('/admin/users')).html, new RegExp(`href="/admin/users/${shadow}">${victim}</a> <span class="badge warn needs-renaming"`));
    const flagged = await userPage(shadow);
    assert.match(flagged.html, /it has the form of a user id, so the CLI and the filters cannot always tell it from an id/);
    await assert.rejects(server.auth.admin.users.get(victim), (err: AdminError) => /is both the id of the user victim and the username of another user/.test(err.error_description ?? ''));
    const renamed = await rename(shadow, 'shadow');
    assert.match(renamed.url, /notice=user_renamed$/);
    assert.equal((await server.auth.admin.users.get(victim)).username, 'victim', 'the text now names the one user whose id it is');
  });
});

for (const backend of TEST_BACKENDS) {
  describe(`user store on ${backend}: rename`, () => {
    let database: TestAuthDatabase;
    let users: UserStore;

    before(async () => {
      database = await openAuthDatabase(backend);
      users = new UserStore(database.db);
    });
    after(async () => {
      await database?.close();
    });

    const create = async (username: string) => (await users.create({ username, passwordHash: null, scopes: ['mcp:read'] }))!;

    test('renames, and the new name finds the user in any case', async () => {
      const user = await create('grace');
      const renamed = await users.rename(user.id, 'grace.hopper');
      assert.equal(renamed !== 'taken' && renamed?.username, 'grace.hopper');
      assert.equal((await users.findByUsername('GRACE.HOPPER'))?.id, user.id);
      assert.equal(await users.findByUsername('grace'), undefined);
      assert.equal((await users.findById(user.id))?.username, 'grace.hopper', 'not an earlier copy');
    });

    test('a name another user has, in any case, is taken; an unknown id is undefined', async () => {
      const one = await create('heidi');
      await create('ivan');
      assert.equal(await users.rename(one.id, 'IVAN'), 'taken');
      assert.equal((await users.findById(one.id))?.username, 'heidi');
      assert.equal(await users.rename(randomUUID(), 'nobody-here'), undefined);
    });

    test('two replicas renaming two users to one name at the same moment: one gets it, the other is told it is taken', async () => {
      const other = new UserStore(await database.reopen());
      for (let round = 0; round < 5; round += 1) {
        const [a, b] = [await create(`judy-${round}`), await create(`karl-${round}`)];
        const results = await Promise.all([users.rename(a.id, `same-${round}`), other.rename(b.id, `same-${round}`)]);
        assert.equal(results.filter((r) => r === 'taken').length, 1, `round ${round}: ${JSON.stringify(results)}`);
        assert.equal((await users.list()).filter((u) => u.username === `same-${round}`).length, 1);
      }
    });

    // Only PostgreSQL runs two writers at once (SQLite's write lock puts one after the other): the
    // second rename's check cannot see the first's uncommitted name, and the unique index refuses it.
    if (backend === 'postgres') {
      test('a name another replica gave a user in a transaction not yet committed is taken once that commits, not an error', async () => {
        const [a, b] = [await create('mike'), await create('nina')];
        const other = new UserStore(await database.reopen());
        let release!: () => void;
        const held = new Promise<void>((resolve) => { release = resolve; });
        let written!: () => void;
        const inTransaction = new Promise<void>((resolve) => { written = resolve; });
        const first = database.db.transaction(async (tx) => {
          await tx.run("UPDATE users SET username = 'both-want-it' WHERE id = ?", [a.id]);
          written();
          await held;
        });
        await inTransaction;
        const second = other.rename(b.id, 'both-want-it');
        // Until the second rename waits for the first's row in the unique index.
        const waiting = () => database.db.get<{ n: number }>("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE users SET username%'");
        for (let tries = 0; Number((await waiting())?.n) === 0; tries += 1) assert.ok(tries < 5000, 'the second rename never waited');
        release();
        await first;
        assert.equal(await second, 'taken');
        assert.equal((await users.findById(b.id))?.username, 'nina');
      });
    }

    test('isUniqueViolation tells the unique index\'s refusal from other errors', async () => {
      await create('laura');
      const duplicate = await database.db.run(`INSERT INTO users (id, username, scopes, created_at, updated_at) VALUES (?, 'LAURA', 'mcp:read', 0, 0)`, [randomUUID()])
        .then(() => undefined, (err: unknown) => err);
      assert.ok(duplicate, 'the insert was refused');
      assert.equal(isUniqueViolation(duplicate), true);
      const other = await database.db.run('INSERT INTO no_such_table VALUES (1)').then(() => undefined, (err: unknown) => err);
      assert.equal(isUniqueViolation(other), false);
      assert.equal(isUniqueViolation(new Error('x')), false);
      assert.equal(isUniqueViolation(undefined), false);
    });
  });
}
