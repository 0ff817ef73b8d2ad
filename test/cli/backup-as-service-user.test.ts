/**
 * `gatehouse backup` where DATA_DIR or KEYS_DIR cannot be used by the user it runs as: another
 * user's directory, one its owner made read-only, a read-only mount. Each is one line naming the
 * setting, the cause (SQLite must create a WAL database's -shm and -wal even to read it) and what
 * to do, before anything is written; never "there is no database" for a directory it may not
 * enter, never a backup without the signing keys it could not read.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { asNobody, canRunAsNobody, NOBODY } from '../helpers/run-as-nobody.ts';
import { BIN, makeCliDir, runCli, spawnCli } from './support/cli-runner.ts';

/**
 * The database as no app has it open: its -shm and -wal made by whoever opens it next. A read-only
 * connection (a backup's) leaves them behind; they would let the next case read it.
 */
function closedDatabase(data: string): void {
  for (const name of ['auth-server.db-shm', 'auth-server.db-wal']) rmSync(join(data, name), { force: true });
}

/** `path` and what is in it given to `uid`, with `mode` on the directory itself. */
function give(path: string, uid: number, mode: number): void {
  for (const name of readdirSync(path)) chownSync(join(path, name), uid, uid);
  chownSync(path, uid, uid);
  chmodSync(path, mode);
}

describe('gatehouse backup as a user that cannot use DATA_DIR or KEYS_DIR', { skip: !canRunAsNobody && 'needs root and setpriv' }, () => {
  let dir: string;
  let data: string;
  let keys: string;
  before(async () => {
    dir = makeCliDir('gatehouse-cli-backup-user-');
    data = join(dir, 'data');
    keys = join(dir, 'keys');
    assert.equal((await runCli(dir, ['keys', 'rotate'])).code, 0);
    // A WAL database.
    assert.equal((await runCli(dir, ['users', 'add', 'alice'], 'alice password 1234\n')).code, 0);
    assert.deepEqual(readdirSync(data), ['auth-server.db']);
    chmodSync(dir, 0o755);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const db = () => join(data, 'auth-server.db');
  const shm = 'SQLite must create auth-server.db-shm and -wal beside a WAL database even to read it';
  const cases: Array<{ what: string; make: () => void; says: () => string }> = [
    {
      what: 'a DATA_DIR of another user, 0700 (not "no database")',
      make: () => give(data, 0, 0o700),
      says: () => `cannot read ${db()} (DATA_DIR): permission denied: ${data} belongs to uid 0, and this is uid ${NOBODY}; run this as uid 0, the user the server runs as (sudo -u '#0' …)`,
    },
    {
      what: 'a DATA_DIR of another user that anyone may read, 0755',
      make: () => {
        give(data, 0, 0o755);
        chmodSync(db(), 0o644);
      },
      says: () => `cannot read ${db()}: this user (uid ${NOBODY}) may not write in DATA_DIR (${data}), and ${shm}; run this as uid 0, DATA_DIR's owner, the user the server runs as (sudo -u '#0' …)`,
    },
    {
      what: 'its own DATA_DIR, made 0500 (not "cannot copy to the backup: attempt to write a readonly database")',
      make: () => give(data, NOBODY, 0o500),
      says: () => `cannot read ${db()}: DATA_DIR (${data}) is not writable (mode 500), not even by its owner, this user (uid ${NOBODY}), and ${shm}; give its owner write access back (chmod u+w), which the server needs too`,
    },
    {
      what: 'a KEYS_DIR of another user, 0700 (not a backup without the keys)',
      make: () => give(keys, 0, 0o700),
      says: () => `cannot read ${join(keys, 'signing-keys.json')} (KEYS_DIR): permission denied: ${keys} belongs to uid 0, and this is uid ${NOBODY}; run this as uid 0, the user the server runs as (sudo -u '#0' …)`,
    },
    {
      what: 'a signing-keys.json of another user, 0600, in its own KEYS_DIR',
      make: () => {
        give(keys, NOBODY, 0o700);
        chownSync(join(keys, 'signing-keys.json'), 0, 0);
      },
      says: () => `cannot read ${join(keys, 'signing-keys.json')} (KEYS_DIR): permission denied: it belongs to uid 0, and this is uid ${NOBODY}; run this as uid 0, the user the server runs as (sudo -u '#0' …)`,
    },
    {
      what: 'its own KEYS_DIR, made 0000',
      make: () => give(keys, NOBODY, 0o000),
      says: () => `cannot read ${join(keys, 'signing-keys.json')} (KEYS_DIR): permission denied: ${keys} belongs to this user (uid ${NOBODY}), but its mode (000) keeps its owner out; give its owner access back (chmod u+rwX), which the server needs too`,
    },
  ];
  for (const [i, { what, make, says }] of cases.entries()) {
    test(`${what}: one line naming it, the cause and what to do, exit 1, nothing written`, async () => {
      // What the test does not break is nobody's, as a service user's directories are.
      closedDatabase(data);
      give(data, NOBODY, 0o700);
      give(keys, NOBODY, 0o700);
      make();
      const out = join(dir, `out-${i}`);
      mkdirSync(out, { mode: 0o700 });
      chownSync(out, NOBODY, NOBODY);
      const [setpriv, args] = asNobody(process.execPath, [BIN]);
      const result = await spawnCli(dir, ['backup', join(out, 'backup')], { command: [setpriv, ...args], env: { HOME: '/tmp' } });
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stderr, `gatehouse: ${says()}; nothing was written\n`);
      assert.equal(result.stdout, '');
      assert.deepEqual(readdirSync(out), []);
    });
  }

  test('a DATA_DIR on a read-only mount: one line naming it, the cause and what to do, exit 1, nothing written', async () => {
    closedDatabase(data);
    give(data, 0, 0o700);
    give(keys, 0, 0o700);
    const backup = join(dir, 'from-read-only');
    // A read-only bind mount of DATA_DIR over itself, seen only by this process (its own mount namespace).
    const readOnly = ['unshare', '--mount', 'sh', '-ec', 'mount --bind -o ro "$0" "$0"; exec "$@"', data, process.execPath, BIN];
    const result = await spawnCli(dir, ['backup', backup], { command: readOnly });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stderr, `gatehouse: cannot read ${db()}: DATA_DIR (${data}) is on a read-only file system, and ${shm}; run this where DATA_DIR is mounted read-write, as the server has it; nothing was written\n`);
    assert.throws(() => statSync(backup), { code: 'ENOENT' });
  });
});
