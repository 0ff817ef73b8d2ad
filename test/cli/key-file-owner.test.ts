/**
 * The CLI beside a server that runs as a service user: run as root (`sudo npx gatehouse keys
 * rotate`), the key file it replaces stays the service user's, so the server switches to the new
 * key as the CLI says; run as another user, it refuses rather than take the file from its owner.
 * A server that cannot make another user's key file 0600 refuses to start.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { asNobody, canRunAsNobody, NOBODY } from '../helpers/run-as-nobody.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { exitedWithin, freshSetup, kill, run, waitForOk, type RunningProcess, type Setup } from '../ops/support/processes.ts';
import { BIN } from './support/cli-runner.ts';

const MAIN = join('apps', 'auth-server', 'src', 'main.ts');

/** A setup whose data and keys directories belong to nobody, as a service user's would. */
async function nobodysSetup(): Promise<Setup> {
  const setup = await freshSetup({ HOME: '/tmp' });
  chmodSync(setup.dir, 0o755);
  for (const dir of [setup.env.DATA_DIR!, setup.env.KEYS_DIR!]) {
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, NOBODY, NOBODY);
  }
  return setup;
}

async function publishedKids(issuer: string): Promise<string[]> {
  const { keys } = await (await fetch(`${issuer}/oauth/jwks`)).json() as { keys: Array<{ kid: string }> };
  return keys.map((k) => k.kid);
}

describe('key files and their owner', { skip: !canRunAsNobody && 'needs root and setpriv' }, () => {
  test('keys rotate as root beside a server running as nobody: the file stays nobody\'s and the server switches', async () => {
    const setup = await nobodysSetup();
    let server: RunningProcess | undefined;
    try {
      server = run(...asNobody(process.execPath, ['--import', 'tsx', MAIN]), setup.env);
      await waitForOk(`${setup.issuer}/readyz`, { proc: server });
      const before = await publishedKids(setup.issuer);

      const cli = run(process.execPath, [BIN, 'keys', 'rotate'], setup.env);
      assert.equal((await cli.exited).code, 0, cli.output());
      const file = join(setup.env.KEYS_DIR!, 'signing-keys.json');
      const { uid, gid, mode } = statSync(file);
      assert.deepEqual([uid, gid, mode & 0o777], [NOBODY, NOBODY, 0o600]);

      const { keys } = JSON.parse(readFileSync(file, 'utf8')) as { keys: Array<{ jwk: { kid: string }; status: string }> };
      const fresh = keys.find((k) => k.status === 'next')!.jwk.kid;
      assert.ok(!before.includes(fresh));
      await waitFor('the server to publish the new next key', async () => (await publishedKids(setup.issuer)).includes(fresh));
      assert.doesNotMatch(server.output(), /EACCES|could not load the changed signing keys/);
    } finally {
      kill(server);
      rmSync(setup.dir, { recursive: true, force: true });
    }
  });

  // A restore as root that left root's key file readable by everyone: the server, as nobody, cannot
  // make it 0600, and says so rather than serve with keys every local user may read.
  test('a server running as nobody beside a key file root left 0644: refuses to start in one line naming the file and the fix, the file untouched', async () => {
    const setup = await nobodysSetup();
    let server: RunningProcess | undefined;
    try {
      const first = run(...asNobody(process.execPath, ['--import', 'tsx', MAIN]), setup.env);
      await waitForOk(`${setup.issuer}/readyz`, { proc: first });
      first.signal('SIGTERM');
      assert.equal((await exitedWithin(first, 30_000, 'the first server, stopped')).code, 0, first.output());
      // Restored as root: the file is root's now, and the umask left it 0644.
      const file = join(setup.env.KEYS_DIR!, 'signing-keys.json');
      const contents = readFileSync(file, 'utf8');
      rmSync(file);
      writeFileSync(file, contents, { mode: 0o644 });
      chmodSync(file, 0o644);

      server = run(...asNobody(process.execPath, ['--import', 'tsx', MAIN]), setup.env);
      assert.equal((await exitedWithin(server, 60_000, 'the server beside root\'s 0644 key file')).code, 1, server.output());
      const printed = server.output().split('\n').filter((line) => line && !line.startsWith('{') && !line.startsWith('oidc-provider WARNING'));
      assert.deepEqual(printed, [`gatehouse auth-server: KEYS_DIR: ${file} may be read by users other than its owner (mode 644) and belongs to uid 0, `
        + `so this user (uid ${NOBODY}) cannot make it 0600; as root: chown ${NOBODY} ${file} && chmod 600 ${file}`]);
      assert.deepEqual([statSync(file).uid, statSync(file).mode & 0o777], [0, 0o644]);
      assert.equal(readFileSync(file, 'utf8'), contents);
    } finally {
      kill(server);
      rmSync(setup.dir, { recursive: true, force: true });
    }
  });

  test('keys rotate as a user that does not own the key file: refused in one line, the file untouched', async () => {
    const setup = await nobodysSetup();
    try {
      const seed = run(process.execPath, [BIN, 'keys', 'rotate'], setup.env);
      assert.equal((await seed.exited).code, 0, seed.output());
      // Root's keys, in a directory nobody may write, with a mode loosened by hand.
      const file = join(setup.env.KEYS_DIR!, 'signing-keys.json');
      chownSync(setup.env.KEYS_DIR!, 0, 0);
      chmodSync(setup.env.KEYS_DIR!, 0o777);
      chmodSync(file, 0o644);
      chownSync(setup.env.DATA_DIR!, NOBODY, NOBODY);
      for (const name of ['auth-server.db', 'auth-server.db-wal', 'auth-server.db-shm']) {
        try {
          chownSync(join(setup.env.DATA_DIR!, name), NOBODY, NOBODY);
        } catch {
          // SQLite removed the companions when the CLI closed the database.
        }
      }
      const contents = readFileSync(file, 'utf8');

      const cli = run(...asNobody(process.execPath, [BIN, 'keys', 'rotate']), setup.env);
      assert.equal((await cli.exited).code, 1);
      assert.equal(cli.output(), `gatehouse: KEYS_DIR: ${file} belongs to uid 0, which could not read it once this user (uid ${NOBODY}) replaced it; run this as uid 0 (sudo -u '#0' …)\n`);
      assert.equal(readFileSync(file, 'utf8'), contents);
      assert.equal(statSync(file).uid, 0);
    } finally {
      rmSync(setup.dir, { recursive: true, force: true });
    }
  });
});
