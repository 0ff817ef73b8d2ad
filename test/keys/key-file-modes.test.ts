/**
 * Only the server's user may read the key files: a start makes signing-keys.json and
 * cookie-keys.json 0600 again when a restore left them readable by others (`install` without
 * `-m 600` makes them 0755), as every open does the database files (test/ops/database-files.test.ts),
 * and keeps the keys they hold. An existing KEYS_DIR is left as it is, as an existing DATA_DIR is.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe('key files a restore left readable by others', () => {
  let dir: string;
  let server: TestAuthServer;
  let keys: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-key-modes-'));
    server = await startAuthServer({ dir });
    keys = server.config.authServer.keysDir;
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const restores: Array<{ what: string; signing: number; cookie: number }> = [
    { what: 'install without -m (0755)', signing: 0o755, cookie: 0o755 },
    { what: 'an umask of 022 (0644) and a group-readable copy (0640)', signing: 0o644, cookie: 0o640 },
    { what: 'writable by others, not readable (0602)', signing: 0o602, cookie: 0o620 },
  ];
  for (const { what, signing, cookie } of restores) {
    test(`${what}: made 0600 at the next start, the same keys kept, KEYS_DIR left as it is`, async () => {
      const contents = (name: string) => readFileSync(join(keys, name), 'utf8');
      const before = { signing: contents('signing-keys.json'), cookie: contents('cookie-keys.json') };
      chmodSync(join(keys, 'signing-keys.json'), signing);
      chmodSync(join(keys, 'cookie-keys.json'), cookie);
      chmodSync(keys, 0o755);

      await server.restart();
      assert.equal(mode(join(keys, 'signing-keys.json')), '600');
      assert.equal(mode(join(keys, 'cookie-keys.json')), '600');
      assert.equal(mode(keys), '755', 'an existing directory may be shared: not changed');
      assert.deepEqual({ signing: contents('signing-keys.json'), cookie: contents('cookie-keys.json') }, before, 'the keys it was restored with');
      const { keys: published } = await (await fetch(`${server.issuer}/oauth/jwks`)).json() as { keys: Array<{ kid: string }> };
      const stored = (JSON.parse(before.signing) as { keys: Array<{ jwk: { kid: string } }> }).keys.map((k) => k.jwk.kid);
      assert.deepEqual(published.map((k) => k.kid).sort(), stored.sort());
    });
  }
});
