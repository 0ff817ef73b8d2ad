/**
 * The key stores behind the auth-server's keys: files in KEYS_DIR on SQLite, the encrypted keys
 * tables on PostgreSQL. The same behaviour on both (first keys, rotation, retirement, cookie
 * keys), then what only PostgreSQL has to get right: replicas creating and rotating at once on one
 * database, the private parts encrypted at rest, and a wrong encryption key refused.
 */
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../apps/shared/config/config-error.ts';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import type { KeyStore } from '../../apps/auth-server/src/keys/key-store.ts';
import type { DatabaseKeyStore } from '../../apps/auth-server/src/keys/database-key-store.ts';
import { importKeyFiles, KeyImportRefused } from '../../apps/auth-server/src/keys/import-key-files.ts';
import { KeyDecryptionError } from '../../apps/auth-server/src/keys/key-encryption.ts';
import { loadStartingKeys, openKeyStore } from '../../apps/auth-server/src/keys/open-key-store.ts';
import { createTestPostgresDatabase, TEST_BACKENDS, testDatabaseSettings, type TestBackend } from '../helpers/test-database.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { TestClock } from '../helpers/test-clock.ts';

const newEncryptionKey = (): KeyObject => createSecretKey(randomBytes(32));

/** One "replica": its own database connection (pool) and key store over the shared storage. */
async function openReplica(backend: TestBackend, dir: string, postgresUrl: string | undefined, keyEncryptionKey: KeyObject | undefined, clock = new TestClock()) {
  const database = await openDatabase(await testDatabaseSettings(backend, join(dir, 'auth-server.db'), postgresUrl), 'auth-server');
  return { database, store: openKeyStore({ keysDir: join(dir, 'keys'), keyEncryptionKey }, database, clock) };
}

for (const backend of TEST_BACKENDS) {
  describe(`key store (${backend})`, () => {
    let dir: string;
    let postgresUrl: string | undefined;
    const encryptionKey = newEncryptionKey();
    const opened: SqlDatabase[] = [];
    const replica = async (key: KeyObject | undefined = encryptionKey, clock?: TestClock): Promise<KeyStore> => {
      const { database, store } = await openReplica(backend, dir, postgresUrl, key, clock);
      opened.push(database);
      return store;
    };

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'gatehouse-keys-'));
      if (backend === 'postgres') postgresUrl = await createTestPostgresDatabase();
    });
    after(async () => {
      await Promise.all(opened.map((db) => db.close()));
      rmSync(dir, { recursive: true, force: true });
    });

    test('the first start creates an active and a next key; later starts reuse them', async () => {
      const store = await replica();
      assert.deepEqual(await store.readSigningKeys(), [], 'nothing before the first start');
      const first = await store.loadOrCreateSigningKeys();
      assert.equal(first.created, true);
      assert.deepEqual(first.keys.map((k) => k.status), ['active', 'next']);
      assert.ok(first.keys.every((k) => k.jwk.d && k.jwk.alg === 'RS256' && k.jwk.use === 'sig'), 'private RS256 signing keys');
      const again = await (await replica()).loadOrCreateSigningKeys();
      assert.equal(again.created, false);
      assert.deepEqual(again.keys, first.keys, 'another start (or replica) gets the same keys, private parts included');
    });

    test('cookie keys are created once and are the same for every start', async () => {
      const a = await (await replica()).loadOrCreateCookieKeys();
      const b = await (await replica()).loadOrCreateCookieKeys();
      assert.equal(a.length, 1);
      assert.equal(Buffer.from(a[0]!, 'base64url').length, 32);
      assert.deepEqual(b, a);
    });

    test('rotation promotes the next key, stamps the active one retiring, and every reader sees it', async () => {
      const clock = new TestClock();
      const store = await replica(encryptionKey, clock);
      const before = await store.readSigningKeys();
      clock.advance(90);
      const after = await store.rotateSigningKeys();
      assert.deepEqual(after.map((k) => k.status), ['active', 'next', 'retiring']);
      assert.equal(after[0]!.jwk.kid, before[1]!.jwk.kid, 'the next key signs');
      assert.equal(after[2]!.jwk.kid, before[0]!.jwk.kid, 'the active key retires');
      assert.equal(after[2]!.stopped_signing_at, clock.epochSeconds());
      assert.ok(!before.some((k) => k.jwk.kid === after[1]!.jwk.kid), 'a new next key');
      assert.deepEqual(await (await replica()).readSigningKeys(), after, 'another reader sees the rotation');
    });

    test('only a retiring key can be removed', async () => {
      const store = await replica();
      const keys = await store.readSigningKeys();
      for (const key of keys.filter((k) => k.status !== 'retiring')) {
        assert.equal(await store.removeRetiringKey(key.jwk.kid), false, `${key.status} stays`);
      }
      const retiring = keys.find((k) => k.status === 'retiring')!;
      assert.equal(await store.removeRetiringKey(retiring.jwk.kid), true);
      assert.equal(await store.removeRetiringKey(retiring.jwk.kid), false, 'gone already');
      assert.deepEqual((await store.readSigningKeys()).map((k) => k.status), ['active', 'next']);
    });

    test('a key retired by one writer (the CLI) while another rotates (the admin pages) stays retired', async () => {
      const server = await replica();
      const cli = await replica();
      const leaked = (await server.readSigningKeys()).find((k) => k.status === 'active')!;
      await server.rotateSigningKeys();
      // The server rotates again (generating its new next key) while the CLI retires the leaked one.
      const rotation = server.rotateSigningKeys();
      assert.equal(await cli.removeRetiringKey(leaked.jwk.kid), true, 'the CLI retired the leaked key');
      const rotated = await rotation;
      assert.deepEqual(rotated.map((k) => k.status).slice(0, 2), ['active', 'next'], 'the rotation happened');
      const kids = (await (await replica()).readSigningKeys()).map((k) => k.jwk.kid);
      assert.ok(!kids.includes(leaked.jwk.kid), `the retired key stays out of the key set: ${kids.join(', ')}`);
    });

    test('watch calls back after a change made by another writer', async () => {
      const watcher = await replica();
      let calls = 0;
      const stop = watcher.watch(0.05, () => calls++);
      try {
        await (await replica()).rotateSigningKeys();
        await waitFor('the watcher to be called', () => calls > 0);
      } finally {
        stop();
      }
    });
  });
}

describe('key store on PostgreSQL (replicas)', { skip: !TEST_BACKENDS.includes('postgres') && 'GATEHOUSE_TEST_BACKENDS excludes postgres' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-keys-pg-'));
  const opened: SqlDatabase[] = [];
  const replicaOn = async (postgresUrl: string, key: KeyObject | undefined) => {
    const { database, store } = await openReplica('postgres', dir, postgresUrl, key);
    opened.push(database);
    return { database, store };
  };
  const newDatabase = createTestPostgresDatabase;
  after(async () => {
    await Promise.all(opened.map((db) => db.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('replicas starting together on an empty database publish one key set and one cookie key', async () => {
    const url = await newDatabase();
    const key = newEncryptionKey();
    const replicas = await Promise.all(Array.from({ length: 4 }, () => replicaOn(url, key)));
    const started = await Promise.all(replicas.map(({ store }) => loadStartingKeys(store)));
    assert.equal(started.filter((s) => s.created).length, 1, 'exactly one replica created the keys');
    for (const s of started.slice(1)) {
      assert.deepEqual(s.signingKeys, started[0]!.signingKeys, 'every replica got the keys that won');
      assert.deepEqual(s.cookieKeys, started[0]!.cookieKeys);
    }
    const rows = await replicas[0]!.database.all<{ status: string }>('SELECT status FROM signing_keys ORDER BY status');
    assert.deepEqual(rows.map((r) => r.status), ['active', 'next']);
  });

  test('two rotations at once run one after the other: one active, one next, both old keys retiring', async () => {
    const url = await newDatabase();
    const key = newEncryptionKey();
    const [a, b, outsider] = [await replicaOn(url, key), await replicaOn(url, key), await replicaOn(url, key)];
    const initial = (await a.store.loadOrCreateSigningKeys()).keys;
    // Hold the active key's row until both rotations are waiting, so they truly overlap.
    const rotations = await outsider.database.transaction(async (tx) => {
      await tx.get("SELECT kid FROM signing_keys WHERE status = 'active' FOR UPDATE");
      const started = [a.store.rotateSigningKeys(), b.store.rotateSigningKeys()];
      started.forEach((p) => p.catch(() => {}));
      await waitFor('both rotations to wait for a lock', async () => (await tx.get<{ n: number }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))!.n === 2);
      return started;
    });
    await Promise.all(rotations);
    const keys = await a.store.readSigningKeys();
    assert.deepEqual(keys.map((k) => k.status), ['active', 'next', 'retiring', 'retiring']);
    assert.ok(initial.every((old) => keys.find((k) => k.jwk.kid === old.jwk.kid)?.status === 'retiring'), 'the first active and next keys both signed, then retired');
  });

  test('the private parts are encrypted at rest: no JWK member d (or p, q) in the row', async () => {
    const url = await newDatabase();
    const { database, store } = await replicaOn(url, newEncryptionKey());
    const { keys } = await store.loadOrCreateSigningKeys();
    const [cookieKey] = await store.loadOrCreateCookieKeys();
    const rows = await database.all<{ kid: string; private_jwk: string }>('SELECT kid, private_jwk FROM signing_keys');
    assert.equal(rows.length, 2);
    for (const row of rows) {
      const jwk = keys.find((k) => k.jwk.kid === row.kid)!.jwk;
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const) {
        assert.ok(!row.private_jwk.includes(jwk[member]!), `${member} is not stored in plain`);
      }
      assert.match(row.private_jwk, /^v1\./);
    }
    const cookieRow = await database.get<{ secret: string }>('SELECT secret FROM cookie_keys');
    assert.ok(!cookieRow!.secret.includes(cookieKey!), 'the cookie key is not stored in plain');
  });

  test('a row copied over another kid does not decrypt (the kid is authenticated)', async () => {
    const url = await newDatabase();
    const { database, store } = await replicaOn(url, newEncryptionKey());
    const { keys } = await store.loadOrCreateSigningKeys();
    await database.run('UPDATE signing_keys SET private_jwk = (SELECT private_jwk FROM signing_keys WHERE kid = ?) WHERE kid = ?', [keys[1]!.jwk.kid, keys[0]!.jwk.kid]);
    await assert.rejects(store.readSigningKeys(), KeyDecryptionError);
  });

  test('a replica with another encryption key refuses to start with a message naming the field', async () => {
    const url = await newDatabase();
    await loadStartingKeys((await replicaOn(url, newEncryptionKey())).store);
    const wrong = await replicaOn(url, newEncryptionKey());
    await assert.rejects(loadStartingKeys(wrong.store), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /^Invalid configuration: auth_server\.key_encryption_key: the keys stored in the database do not decrypt with it/);
      assert.doesNotMatch(err.message, /\n/, 'one line');
      return true;
    });
    assert.equal((await wrong.database.all('SELECT kid FROM signing_keys')).length, 2, 'and creates no keys of its own');
  });

  test('an embedded setup\'s key files import into an empty database unchanged, and only into an empty one', async () => {
    const sqlite = await openDatabase({ sqliteFile: ':memory:' }, 'auth-server');
    opened.push(sqlite);
    const files = openKeyStore({ keysDir: join(dir, 'import-keys'), keyEncryptionKey: undefined }, sqlite);
    await files.loadOrCreateSigningKeys();
    const signingKeys = await files.rotateSigningKeys();
    const cookieKeys = await files.loadOrCreateCookieKeys();
    const { store } = await replicaOn(await newDatabase(), newEncryptionKey());
    const database = store as DatabaseKeyStore;
    assert.equal(await database.importKeys(signingKeys, cookieKeys), true);
    assert.deepEqual(await store.readSigningKeys(), signingKeys, 'stages, stamps and private parts kept');
    assert.deepEqual(await store.loadOrCreateCookieKeys(), cookieKeys, 'cookies signed before the move stay valid');
    assert.equal(await database.importKeys((await files.rotateSigningKeys()), cookieKeys), false, 'a store with keys is left alone');
    assert.deepEqual(await store.readSigningKeys(), signingKeys);
  });

  test('importing key files: the same keys already in place are reported, other keys are refused', async () => {
    const keysDir = join(dir, 'import-again');
    const sqlite = await openDatabase({ sqliteFile: ':memory:' }, 'auth-server');
    opened.push(sqlite);
    const files = openKeyStore({ keysDir, keyEncryptionKey: undefined }, sqlite);
    await files.loadOrCreateSigningKeys();
    await files.loadOrCreateCookieKeys();
    const key = newEncryptionKey();
    const { database } = await replicaOn(await newDatabase(), key);
    assert.deepEqual(await importKeyFiles({ keysDir, keyEncryptionKey: key }, database), { signingKeys: 2, cookieKeys: 1 });
    assert.deepEqual(await importKeyFiles({ keysDir, keyEncryptionKey: key }, database), { signingKeys: 2, cookieKeys: 1 }, 'a rerun finds them in place');
    const { database: other, store } = await replicaOn(await newDatabase(), key);
    await store.loadOrCreateSigningKeys();
    await assert.rejects(importKeyFiles({ keysDir, keyEncryptionKey: key }, other), KeyImportRefused);
  });

  test('PostgreSQL without an encryption key is a configuration error naming the field', async () => {
    const database = await openDatabase(await testDatabaseSettings('postgres', join(dir, 'unused.db')), 'auth-server');
    opened.push(database);
    assert.throws(() => openKeyStore({ keysDir: join(dir, 'keys'), keyEncryptionKey: undefined }, database), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /auth_server\.key_encryption_key: required when database\.url/);
      return true;
    });
  });
});
