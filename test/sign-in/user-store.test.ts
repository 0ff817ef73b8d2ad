import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { applyConfiguredUsers } from '../../apps/auth-server/src/accounts/apply-configured-users.ts';
import { createBootstrapAdmin } from '../../apps/auth-server/src/accounts/bootstrap-admin.ts';
import { FirstAdminPasswordFile } from '../../apps/auth-server/src/accounts/first-admin-password-file.ts';
import { PasswordHasher } from '../../apps/auth-server/src/accounts/password-hasher.ts';
import { UserStore } from '../../apps/auth-server/src/accounts/user-store.ts';
import type { AuthServerConfig } from '../../apps/shared/config/load-config.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { openTwoReplicas, type TwoReplicas } from '../helpers/two-replicas-database.ts';

const usernames = (users: { username: string }[]) => users.map((u) => u.username);

for (const backend of TEST_BACKENDS) {
  describe(`user store (${backend})`, () => {
    let replicas: TwoReplicas;
    let users: UserStore;
    let otherReplica: UserStore;
    let hasher: PasswordHasher;

    before(async () => {
      replicas = await openTwoReplicas(backend);
      users = new UserStore(replicas.first);
      otherReplica = new UserStore(replicas.second);
      hasher = new PasswordHasher(4);
    });
    after(async () => {
      await hasher.close();
      await replicas.close();
    });

    test('creates a user and finds it by id and by its name in any case', async () => {
      const created = await users.create({ username: 'Carmen', passwordHash: 'hash', scopes: ['mcp:read', 'mcp:write'], email: 'carmen@example.com' });
      assert.ok(created);
      assert.deepEqual(await users.findById(created.id), created);
      for (const name of ['Carmen', 'carmen', 'CARMEN']) assert.equal((await users.findByUsername(name))?.id, created.id, name);
      assert.deepEqual(created.scopes, ['mcp:read', 'mcp:write']);
      assert.equal(created.disabled, false);
      assert.equal(created.source, 'builtin');
      assert.equal((await otherReplica.findByUsername('carmen'))?.id, created.id, 'the other replica sees it at once');
    });

    test('a name taken in another case creates nothing, on this replica or the other', async () => {
      const first = await users.create({ username: 'dmitri', passwordHash: null, scopes: [] });
      assert.ok(first);
      assert.equal(await users.create({ username: 'DMITRI', passwordHash: null, scopes: [] }), undefined);
      assert.equal(await otherReplica.create({ username: 'Dmitri', passwordHash: null, scopes: [] }), undefined);
      assert.deepEqual(usernames(await users.search('dmitri')), ['dmitri']);
    });

    test('search matches the username or email in any case; % and _ are plain characters', async () => {
      await users.create({ username: 'under_score', passwordHash: null, scopes: [] });
      await users.create({ username: 'underXscore', passwordHash: null, scopes: [] });
      await users.create({ username: 'fifty', passwordHash: null, scopes: [], email: '50%off@Example.com' });
      await users.create({ username: 'fiftyoff', passwordHash: null, scopes: [], email: '50off@example.com' });
      await users.create({ username: 'back', passwordHash: null, scopes: [], email: 'a\\b@example.com' });
      assert.deepEqual(usernames(await users.search('R_S')), ['under_score'], '_ matches only itself, in any case');
      assert.deepEqual(usernames(await users.search('50%')), ['fifty'], '% matches only itself');
      assert.deepEqual(usernames(await users.search('EXAMPLE.COM')), ['back', 'Carmen', 'fifty', 'fiftyoff'], 'email, any case; ordered by name in any case');
      assert.deepEqual(usernames(await users.search('a\\b')), ['back'], 'a backslash matches itself');
      assert.deepEqual(await users.search('nobody'), []);
    });

    test('update writes only the fields it is given, so changes from two replicas both stay', async () => {
      const user = (await users.create({ username: 'erin', passwordHash: 'old', scopes: ['mcp:read'] }))!;
      // Each replica read the user before either wrote: a write of the whole row would undo the other's change.
      const [disabled, rescoped] = await Promise.all([
        users.update(user.id, { disabled: true }),
        otherReplica.update(user.id, { scopes: ['mcp:read', 'mcp:write'] }),
      ]);
      assert.ok(disabled && rescoped);
      const stored = (await users.findById(user.id))!;
      assert.equal(stored.disabled, true);
      assert.deepEqual(stored.scopes, ['mcp:read', 'mcp:write']);
      assert.equal(stored.passwordHash, 'old', 'untouched');
      assert.equal(await users.update('no-such-id', { disabled: true }), undefined);
    });

    test('addScopes keeps the scopes another replica set meanwhile', async () => {
      const user = (await users.create({ username: 'farah', passwordHash: null, scopes: ['mcp:read'] }))!;
      await otherReplica.update(user.id, { scopes: ['mcp:read', 'mcp:write'] });
      const updated = await users.addScopes(user.id, ['mcp:admin']);
      assert.deepEqual(updated?.scopes, ['mcp:read', 'mcp:write', 'mcp:admin']);
    });

    test('two replicas starting together create the bootstrap admin and the configured users once', async () => {
      const fresh = await openTwoReplicas(backend);
      try {
        const config = {
          bootstrapAdmin: { username: 'admin' },
          users: [{ username: 'reader', password: 'reader-password', scopes: ['mcp:read'], disabled: false }],
        } as unknown as AuthServerConfig;
        const stores = [new UserStore(fresh.first), new UserStore(fresh.second)];
        await Promise.all(stores.map((store) => applyConfiguredUsers(config, store, hasher)));
        assert.deepEqual(usernames(await stores[0]!.list()), ['reader']);

        const empty = { ...config, users: [] } as unknown as AuthServerConfig;
        const again = await openTwoReplicas(backend);
        try {
          const racing = [new UserStore(again.first), new UserStore(again.second)];
          // Both replicas' password files in one data directory, the worst case for them.
          const dir = mkdtempSync(join(tmpdir(), 'gatehouse-first-admin-'));
          after(() => rmSync(dir, { recursive: true, force: true }));
          const passwordFile = new FirstAdminPasswordFile(join(dir, 'first-admin-password'), 'admin');
          const results = await Promise.all(racing.map((store) => createBootstrapAdmin(empty, store, hasher, passwordFile)));
          assert.deepEqual(usernames(await racing[1]!.list()), ['admin'], 'one admin');
          const shown = results.filter((r) => r?.generatedPassword);
          assert.equal(shown.length, 1, 'only the replica whose admin was stored shows a password');
          const admin = (await racing[0]!.findByUsername('admin'))!;
          assert.ok(await hasher.verify(shown[0]!.generatedPassword!, admin.passwordHash!), 'and it is the stored one');
          assert.deepEqual(readdirSync(dir), ['first-admin-password'], 'the other replica\'s staged file is gone');
          assert.equal(readFileSync(passwordFile.path, 'utf8'), `${shown[0]!.generatedPassword}\n`, 'the file holds the stored password');
        } finally {
          await again.close();
        }
      } finally {
        await fresh.close();
      }
    });
  });
}
