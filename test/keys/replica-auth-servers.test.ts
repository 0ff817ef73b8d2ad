/**
 * Whole auth-servers as replicas: two on one PostgreSQL database, started together, with their
 * signing and cookie keys in that database. They publish one JWKS, verify each other's tokens,
 * and a rotation or retirement made on one (admin pages' services, or the CLI) is used by the
 * other within `signing.reload_interval`. No key file is written on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { run as runGatehouse } from '../../apps/auth-server/src/cli/run.ts';
import { openKeyStore } from '../../apps/auth-server/src/keys/open-key-store.ts';
import { connectAs, RESOURCE } from '../admin/support/admin-browser.ts';
import { CapturedOutput } from '../cli/support/captured-output.ts';
import { registerClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';
import { waitFor } from '../helpers/wait-for.ts';

const BY = { actor: { name: 'test-admin', id: 'test-admin' }, ip: '127.0.0.1' };
const KEY_ENCRYPTION_KEY = randomBytes(32).toString('base64');

describe('signing keys of two auth-server replicas on one PostgreSQL database', { skip: !TEST_BACKENDS.includes('postgres') && 'GATEHOUSE_TEST_BACKENDS excludes postgres' }, () => {
  let databaseUrl: string;
  let a: TestAuthServer;
  let b: TestAuthServer;
  const cliDir = mkdtempSync(join(tmpdir(), 'gatehouse-keys-cli-'));

  before(async () => {
    databaseUrl = await createTestPostgresDatabase();
    const replica = () => startAuthServer({
      databaseUrl,
      env: { GATEHOUSE_KEY_ENCRYPTION_KEY: KEY_ENCRYPTION_KEY },
      configure: (config) => { config.authServer.keysReloadInterval = 1; },
    });
    const started = await Promise.allSettled([replica(), replica()]);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      // One replica that did start must not keep the test process alive.
      await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.close() : undefined)));
      throw failed.reason;
    }
    [a, b] = started.map((s) => (s as PromiseFulfilledResult<TestAuthServer>).value) as [TestAuthServer, TestAuthServer];
  });
  after(async () => {
    await a?.close();
    await b?.close();
    rmSync(cliDir, { recursive: true, force: true });
  });

  const jwks = async (server: TestAuthServer) => (await (await fetch(`${server.issuer}/oauth/jwks`)).json()) as JSONWebKeySet;
  const kids = async (server: TestAuthServer) => (await jwks(server)).keys.map((k) => k.kid!).sort();
  const tokenFrom = async (server: TestAuthServer) => (await connectAs(server, await registerClient(server.issuer), 'admin', ADMIN_PASSWORD)).accessToken;

  test('started together, they publish the same JWKS, and write no key files', async () => {
    const [fromA, fromB] = [await jwks(a), await jwks(b)];
    assert.equal(fromA.keys.length, 2, 'one active and one next key, not one pair per replica');
    assert.deepEqual(fromB, fromA);
    for (const server of [a, b]) assert.equal(existsSync(join(server.config.authServer.keysDir, 'signing-keys.json')), false);
  });

  test('a token signed by one replica verifies with the other\'s JWKS', async () => {
    const token = await tokenFrom(a);
    await jwtVerify(token, createRemoteJWKSet(new URL(`${b.issuer}/oauth/jwks`)), { issuer: a.issuer, audience: RESOURCE, typ: 'at+jwt' });
  });

  test('the stored private keys hold no JWK d in plain', async () => {
    const store = openKeyStore({ keysDir: cliDir, keyEncryptionKey: createSecretKey(Buffer.from(KEY_ENCRYPTION_KEY, 'base64')) }, a.auth.database);
    const keys = await store.readSigningKeys();
    const rows = await a.auth.database.all<{ kid: string; private_jwk: string }>('SELECT kid, private_jwk FROM signing_keys');
    assert.equal(rows.length, keys.length);
    for (const row of rows) assert.ok(!row.private_jwk.includes(keys.find((k) => k.jwk.kid === row.kid)!.jwk.d!), `${row.kid}: d is encrypted`);
  });

  test('a rotation on one replica is used by the other for signing after its reload; retiring stops its tokens on both', async () => {
    const before = await tokenFrom(b);
    const oldKid = decodeProtectedHeader(before).kid!;
    const active = await a.auth.admin.keys.rotate(BY);
    const next = (await a.auth.admin.keys.list()).find((k) => k.status === 'next')!.kid;
    await waitFor('replica B to load the rotated keys', async () => (await kids(b)).includes(next));
    assert.deepEqual(await kids(b), await kids(a));
    assert.equal(decodeProtectedHeader(await tokenFrom(b)).kid, active.kid, 'B signs with the key promoted on A');

    await a.auth.admin.keys.retire(oldKid, { force: true }, BY);
    const feed = await (await fetch(`${b.issuer}/oauth/revocations`)).json() as { entries: Array<{ kind: string; value: string }> };
    assert.ok(feed.entries.some((e) => e.kind === 'kid' && e.value === oldKid), 'B\'s revocation feed refuses the retired key\'s tokens');
    await waitFor('replica B to stop publishing the retired key', async () => !(await kids(b)).includes(oldKid));
  });

  test('gatehouse keys list/rotate/retire on PostgreSQL: every replica follows', async () => {
    const env = { PATH: process.env.PATH, DATA_DIR: join(cliDir, 'data'), KEYS_DIR: join(cliDir, 'keys'), DATABASE_URL: databaseUrl, GATEHOUSE_KEY_ENCRYPTION_KEY: KEY_ENCRYPTION_KEY };
    const gatehouse = async <T>(...args: string[]): Promise<T> => {
      const stdout = new CapturedOutput();
      const stderr = new CapturedOutput();
      const code = await runGatehouse(['--json', 'keys', ...args], { stdin: Readable.from([]), stdout, stderr }, env);
      assert.equal(code, 0, stderr.text);
      return JSON.parse(stdout.text) as T;
    };
    const listed = await gatehouse<Array<{ kid: string; status: string }>>('list');
    assert.deepEqual(listed.map((k) => k.kid).sort(), await kids(a), 'the CLI lists the keys the replicas publish');
    const { kid } = await gatehouse<{ kid: string }>('rotate');
    for (const server of [a, b]) {
      await waitFor(`${server.issuer} to sign with ${kid}`, async () => decodeProtectedHeader(await tokenFrom(server)).kid === kid, 15_000, 300);
    }
    const retiring = (await gatehouse<Array<{ kid: string; status: string }>>('list')).find((k) => k.status === 'retiring')!.kid;
    await gatehouse('retire', '--force', '--', retiring);
    for (const server of [a, b]) await waitFor(`${server.issuer} to stop publishing ${retiring}`, async () => !(await kids(server)).includes(retiring));
    assert.equal(existsSync(join(cliDir, 'keys', 'signing-keys.json')), false, 'the CLI wrote no key file');
  });
});
