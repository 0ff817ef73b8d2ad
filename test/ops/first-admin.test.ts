/**
 * Issue 17, trap 1: the first admin's password can never be lost. A first `npm start` that
 * cannot listen (the port is taken) creates no admin; the next start creates it and hands its
 * password over, which signs in. While that admin has never signed in, every start says how to
 * set a new password; after a sign-in, starts say nothing about it.
 *
 * And it never goes to a log: stdout that is not a terminal (a container's, a file) names the
 * file holding it, readable only by the server's user and removed at that admin's first sign-in;
 * only a terminal is shown the password itself.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { connect, registerClient } from '../helpers/oauth-flow.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';
import { makeCliDir, runCli } from '../cli/support/cli-runner.ts';
import { createAuthServer } from '../../apps/auth-server/src/create-auth-server.ts';
import { loadConfig } from '../../apps/shared/config/load-config.ts';
import { createHttpServer } from '../../apps/shared/http-server.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { PasswordHasher } from '../../apps/auth-server/src/accounts/password-hasher.ts';
import { migrationsDir, openDatabase } from '../../apps/shared/storage/open-database.ts';
import { migratePostgres } from '../../apps/shared/storage/migrate-postgres.ts';
import { PostgresDatabase } from '../../apps/shared/storage/postgres-database.ts';
import { migrateSqlite, SqliteDatabase } from '../../apps/shared/storage/sqlite-database.ts';
import { freshSetup, kill, run, waitForOk, waitUntilRefused, type RunningProcess, type Setup } from './support/processes.ts';

const PASSWORD_LINE = /created admin user "admin" with password: (\S+)/;
const FILE_LINE = /created admin user "admin"\. Its password is in the file\n {4}(\S+)\n/;
// The command may begin with the environment the server was started with (DATA_DIR=…).
const RESET_HINT = /Admin user "admin" has not signed in yet\.(?: Its password is in (\S+))?\n {2}Lost its password\? Set a new one:\n {4}(?:[A-Z_]+=\S+ )*npx gatehouse users passwd admin\n/;

/** The password in the file the banner named: the file's own, 0600, one line. */
function readPasswordFile(path: string): string {
  assert.equal(statSync(path).mode & 0o777, 0o600, 'readable and writable by its owner only');
  const text = readFileSync(path, 'utf8');
  assert.match(text, /^\S{20,}\n$/, 'one strong random password');
  return text.trim();
}

/** An auth-server that created the first admin, its password file in `dir`/data; the CLI runs in `dir`. */
async function replicaThatCreatedTheAdmin() {
  const dir = makeCliDir('gatehouse-first-admin-');
  const config = loadConfig({ DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys') }, dir);
  config.authServer.bcryptCost = 10;
  const first = await createAuthServer(config.authServer, createLogger('auth-server', 'silent'));
  const file = (await first.createBootstrapAdmin())!.passwordFile!;
  return { dir, first, file, password: readPasswordFile(file) };
}

/** Another replica on the same database, with a data directory of its own. */
function startOtherReplica(dir: string): Promise<TestAuthServer> {
  return startAuthServer({ dir, configure: (c) => { c.authServer.firstAdminPasswordFile = join(dir, 'other', 'first-admin-password'); } });
}

async function signIn(server: TestAuthServer, username: string, password: string): Promise<void> {
  const client = await registerClient(server.issuer);
  assert.ok((await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: server.config.authServer.resource, username, password })).code, `${username} signs in`);
}

/** `npm start`'s launcher (apps/start.ts) under tsx, as the package.json script runs it. */
function startBoth(setup: Setup): RunningProcess {
  return run(process.execPath, ['--import', 'tsx', 'apps/start.ts'], setup.env);
}

async function stop(proc: RunningProcess): Promise<void> {
  proc.signal('SIGINT', { group: true });
  await proc.exited;
}

describe('the first admin', () => {
  let setup: Setup;
  const started: RunningProcess[] = [];
  after(() => {
    started.forEach(kill);
    if (setup) rmSync(setup.dir, { recursive: true, force: true });
  });

  test('a first start that cannot listen creates no admin; the next one creates it and hands over a password that signs in, in a file, not in stdout', async () => {
    setup = await freshSetup();
    // Someone else's server on the port; the resource server's calls to it are hung up on.
    const taken = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => taken.listen(setup.authPort, '127.0.0.1', resolve));
    try {
      const failed = startBoth(setup);
      started.push(failed);
      assert.notEqual((await failed.exited).code, 0, 'the start with the port taken fails');
      assert.match(failed.output(), /cannot listen on 127\.0\.0\.1:\d+ \(the port is in use\)/);
      assert.doesNotMatch(failed.output(), /password/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
    const db = await openDatabase({ sqliteFile: join(setup.dir, 'data', 'auth-server.db') }, 'auth-server');
    try {
      assert.equal((await db.get<{ n: number }>('SELECT count(*) AS n FROM users'))!.n, 0, 'no admin was created by the failed start');
    } finally {
      await db.close();
    }

    const app = startBoth(setup);
    started.push(app);
    const output = await app.waitForOutput(/Press Ctrl-C/);
    const file = FILE_LINE.exec(output)?.[1];
    assert.equal(file, join(setup.dir, 'data', 'first-admin-password'), `the start that created the admin names its password file:\n${output}`);
    const password = readPasswordFile(file);
    assert.ok(!output.includes(password), 'stdout is not a terminal here: the password is not in it');
    assert.doesNotMatch(output, PASSWORD_LINE);
    assert.doesNotMatch(output, RESET_HINT, 'no reset hint beside the password itself');
    assert.deepEqual(readdirSync(join(setup.dir, 'data')).filter((f) => f.startsWith('first-admin-password')), ['first-admin-password'], 'no staged copy left');
    await waitForOk(`${setup.issuer}/readyz`, { proc: app });
    await stop(app);
    // Not signed in yet: the next start points to the file and to the reset command.
    const again = startBoth(setup);
    started.push(again);
    const againOutput = await again.waitForOutput(/Press Ctrl-C/);
    assert.equal(RESET_HINT.exec(againOutput)?.[1], file, againOutput);
    assert.doesNotMatch(againOutput, FILE_LINE);
    assert.ok(!againOutput.includes(password));
    await waitForOk(`${setup.issuer}/readyz`, { proc: again });
    const client = await registerClient(setup.issuer);
    const signedIn = await connect(setup.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: setup.mcpUrl, username: 'admin', password });
    assert.ok(signedIn.code, 'the password in the file signs the admin in');
    assert.equal(existsSync(file), false, 'the admin signed in: the file is gone at once');
    await stop(again);

    const later = startBoth(setup);
    started.push(later);
    const laterOutput = await later.waitForOutput(/Press Ctrl-C/);
    assert.doesNotMatch(laterOutput, /passwd|password/, 'once the admin signed in, nothing about its password');
    assert.match(laterOutput, new RegExp(`Admin pages: {2}${setup.issuer.replaceAll('.', '\\.')}/admin\\n`), 'the admin URL on every start');
    await stop(later);
  });

  test('on a terminal, the banner shows the generated password too: the one in the file', async () => {
    const terminalSetup = await freshSetup();
    try {
      // util-linux `script` runs the launcher on a pseudo-terminal, as a person's `npm start` does.
      const launcher = [process.execPath, '--import', 'tsx', 'apps/start.ts'].map((word) => `'${word}'`).join(' ');
      const app = run('script', ['-qfec', launcher, '/dev/null'], terminalSetup.env);
      started.push(app);
      const output = await app.waitForOutput(/Press Ctrl-C/);
      const shown = PASSWORD_LINE.exec(output)?.[1];
      assert.ok(shown, `the password is shown on a terminal:\n${output}`);
      const file = join(terminalSetup.dir, 'data', 'first-admin-password');
      assert.ok(output.includes(`kept in ${file} only until "admin" signs in.`), output);
      assert.equal(readPasswordFile(file), shown);
      app.signal('SIGTERM'); // `script` hangs up its terminal: both apps get SIGHUP
      await app.exited;
      await waitUntilRefused(terminalSetup.authPort);
      await waitUntilRefused(terminalSetup.resourcePort);
    } finally {
      rmSync(terminalSetup.dir, { recursive: true, force: true });
    }
  });

  test('a password file that cannot be written fails the start before any admin exists; the next start creates it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-first-admin-'));
    const config = loadConfig({ DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys') }, dir);
    config.authServer.bcryptCost = 10;
    // A file where its directory should be: refused whoever runs the test (root included).
    writeFileSync(join(dir, 'in-the-way'), '');
    config.authServer.firstAdminPasswordFile = join(dir, 'in-the-way', 'first-admin-password');
    try {
      const server = await createAuthServer(config.authServer, createLogger('auth-server', 'silent'));
      try {
        await assert.rejects(server.createBootstrapAdmin(), {
          name: 'ConfigError',
          message: `cannot write the first admin's generated password to ${config.authServer.firstAdminPasswordFile} (EEXIST): make DATA_DIR writable by this user, or set BOOTSTRAP_ADMIN_PASSWORD`,
        });
        assert.equal(await server.users.count(), 0, 'no admin whose password is nowhere');
      } finally {
        await server.close();
      }
      config.authServer.firstAdminPasswordFile = join(dir, 'data', 'first-admin-password');
      const next = await createAuthServer(config.authServer, createLogger('auth-server', 'silent'));
      try {
        const created = await next.createBootstrapAdmin();
        assert.equal(created?.passwordFile, config.authServer.firstAdminPasswordFile);
        const admin = (await next.users.findByUsername('admin'))!;
        assert.ok(await next.hasher.verify(readPasswordFile(created.passwordFile), admin.passwordHash!), 'the file holds the stored password');
      } finally {
        await next.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('replicas: a sign-in at another replica removes the file at this one\'s next check; `users passwd admin` removes it too', async () => {
    const { dir, first, file, password } = await replicaThatCreatedTheAdmin();
    let other: TestAuthServer | undefined;
    try {
      assert.deepEqual(await first.unusedBootstrapAdmin(), { username: 'admin', passwordFile: file }, 'not signed in yet: the banner names the file');
      other = await startOtherReplica(dir);
      await signIn(other, 'admin', password);
      assert.equal(existsSync(file), true, 'this replica saw no sign-in');
      assert.equal(await first.unusedBootstrapAdmin(), undefined);
      assert.equal(existsSync(file), false, 'the admin signed in somewhere: the file is gone');

      // A password written again (say, restored from a backup) no longer holds the admin's once `users passwd` changed it.
      writeFileSync(file, `${password}\n`, { mode: 0o600 });
      const otherUser = await runCli(dir, ['users', 'add', 'sam'], 'sam password 1234\n');
      assert.equal(otherUser.code, 0, otherUser.stderr);
      assert.equal((await runCli(dir, ['users', 'passwd', 'sam'], 'sam new password 1\n')).code, 0);
      assert.equal(existsSync(file), true, 'another user\'s new password leaves it');
      const changed = await runCli(dir, ['users', 'passwd', 'admin'], 'admin new password 1\n');
      assert.equal(changed.code, 0, changed.stderr);
      assert.ok(changed.stdout.includes(`removed ${file}, which held the password generated at the first start`), changed.stdout);
      assert.equal(existsSync(file), false);
    } finally {
      await other?.close();
      await first.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('renamed with `users rename` before it signs in, the first admin\'s sign-in under the new name removes the file at once, and so does `users passwd` of it', async () => {
    const server = await startAuthServer({ env: { BOOTSTRAP_ADMIN_PASSWORD: '' } });
    try {
      writeFileSync(join(server.dir, 'gatehouse.yaml'), 'auth_server:\n  bcrypt_cost: 10\n');
      const file = server.config.authServer.firstAdminPasswordFile;
      const password = readPasswordFile(file);
      const renamed = await runCli(server.dir, ['users', 'rename', 'admin', 'root']);
      assert.equal(renamed.code, 0, renamed.stderr);
      await signIn(server, 'root', password);
      assert.equal(existsSync(file), false, 'the first admin signed in as root: the file is gone at once');
      assert.equal(await server.auth.unusedBootstrapAdmin(), undefined, 'signed in: starts no longer point it out');

      // A password written again (say, restored from a backup) no longer holds root's once `users passwd` changed it.
      writeFileSync(file, `${password}\n`, { mode: 0o600 });
      const changed = await runCli(server.dir, ['users', 'passwd', 'root'], 'root new password 1\n');
      assert.equal(changed.code, 0, changed.stderr);
      assert.ok(changed.stdout.includes(`removed ${file}`), changed.stdout);
      assert.equal(existsSync(file), false);
    } finally {
      await server.close();
      rmSync(server.dir, { recursive: true, force: true });
    }
  });

  test('replicas: a start names the first admin as renamed and keeps its file; once it signed in (at another replica) and was renamed again, no start points it out and its file is gone', async () => {
    const { dir, first, file, password } = await replicaThatCreatedTheAdmin();
    let other: TestAuthServer | undefined;
    try {
      assert.equal((await runCli(dir, ['users', 'rename', 'admin', 'root'])).code, 0);
      assert.deepEqual(await first.unusedBootstrapAdmin(), { username: 'root', passwordFile: file }, 'not signed in yet: the banner names it as renamed, and its file');
      other = await startOtherReplica(dir);
      await signIn(other, 'root', password);
      assert.equal((await runCli(dir, ['users', 'rename', 'root', 'ops'])).code, 0);
      assert.equal(existsSync(file), true, 'this replica saw no sign-in');
      assert.equal(await first.unusedBootstrapAdmin(), undefined, 'signed in under a name it no longer has: not pointed out');
      assert.equal(existsSync(file), false, 'and the working password is not kept');
      assert.equal(await other.auth.unusedBootstrapAdmin(), undefined);
    } finally {
      await other?.close();
      await first.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an admin the config file created before the first start, even one with the bootstrap name, is not taken for the first admin', async () => {
    const server = await startAuthServer({
      env: { BOOTSTRAP_ADMIN_PASSWORD: '' },
      configure: (c) => { c.authServer.users = [{ username: 'admin', password: 'operator chosen password', scopes: ['mcp:read', 'mcp:write', 'mcp:admin'], disabled: false }]; },
    });
    try {
      assert.equal((await server.auth.users.findByUsername('admin'))?.source, 'config');
      assert.equal(await server.auth.users.firstAdmin(), undefined, 'no first admin was created');
      assert.equal(await server.auth.unusedBootstrapAdmin(), undefined, 'no banner names it');
      assert.equal(existsSync(server.config.authServer.firstAdminPasswordFile), false);
    } finally {
      await server.close();
      rmSync(server.dir, { recursive: true, force: true });
    }
  });

  test('an admin `users add` created on a fresh database before the first start, even one with the bootstrap name, is not taken for the first admin', async () => {
    const dir = makeCliDir('gatehouse-first-admin-');
    const added = await runCli(dir, ['users', 'add', 'admin', '--scope', 'mcp:read,mcp:write,mcp:admin'], 'operator chosen pw 1\noperator chosen pw 1\n');
    assert.equal(added.code, 0, added.stderr);
    const server = await startAuthServer({ dir, env: { BOOTSTRAP_ADMIN_PASSWORD: '' } });
    try {
      assert.equal(await server.auth.users.firstAdmin(), undefined, 'no first admin was created: the operator made their own');
      assert.equal(await server.auth.unusedBootstrapAdmin(), undefined, 'no banner names it');
      // A file left at the path (say, restored from a backup) is not the operator's admin's to remove.
      const file = server.config.authServer.firstAdminPasswordFile;
      writeFileSync(file, 'not this admin\'s password\n', { mode: 0o600 });
      await signIn(server, 'admin', 'operator chosen pw 1');
      assert.equal(existsSync(file), true);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const backend of TEST_BACKENDS) {
    test(`on a database that had users before the first admin's mark, the configured name still stands for the first admin an earlier version created (${backend})`, async () => {
      const dir = makeCliDir('gatehouse-first-admin-');
      const databaseUrl = backend === 'postgres' ? await createTestPostgresDatabase() : undefined;
      // The migrations an earlier version had: those before the mark.
      const all = migrationsDir(backend, 'auth-server');
      const marking = readdirSync(all).find((name) => name.endsWith('_first_admin.sql'))!;
      const before = join(dir, 'migrations-before');
      mkdirSync(before);
      for (const name of readdirSync(all).filter((name) => name.endsWith('.sql') && name < marking)) copyFileSync(join(all, name), join(before, name));
      const db = databaseUrl ? new PostgresDatabase({ url: databaseUrl, maxConnections: 1 }) : new SqliteDatabase(join(dir, 'data', 'auth-server.db'));
      const migrate = (from: string) => (db instanceof PostgresDatabase ? migratePostgres(db, 'auth-server', from) : migrateSqlite(db, from));
      const password = 'earlier version password';
      try {
        await migrate(before);
        // The first admin as the earlier version's first start stored it: builtin, an admin, never signed in.
        await db.run(`INSERT INTO users (id, username, password_hash, scopes, disabled, pending, email, source, created_at, updated_at)
          VALUES ('u-earlier', 'admin', ?, 'mcp:read mcp:write mcp:admin', 0, 0, NULL, 'builtin', 1000, 1000)`, [await new PasswordHasher(10, { threads: 1 }).hash(password)]);
      } finally {
        await db.close();
      }
      const server = await startAuthServer({ dir, databaseUrl, env: { BOOTSTRAP_ADMIN_PASSWORD: '' } });
      try {
        assert.equal(await server.auth.users.firstAdmin(), undefined, 'the earlier version did not mark it');
        assert.equal((await server.auth.unusedBootstrapAdmin())?.username, 'admin', 'not signed in yet: the banner names it');
        // As the earlier version's first start left it (PostgreSQL leaves DATA_DIR uncreated).
        const file = server.config.authServer.firstAdminPasswordFile;
        mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        writeFileSync(file, `${password}\n`, { mode: 0o600 });
        await signIn(server, 'admin', password);
        assert.equal(existsSync(file), false, 'its sign-in removes the file');
        assert.equal(await server.auth.unusedBootstrapAdmin(), undefined, 'signed in: starts no longer point it out');
      } finally {
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('the auth-server is not ready until the first-admin step has run, so a probe never lets that sign-in fail', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-first-admin-'));
    const config = loadConfig({ DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys'), BOOTSTRAP_ADMIN_PASSWORD: 'correct horse battery staple' }, dir);
    config.authServer.bcryptCost = 10;
    const server = await createAuthServer(config.authServer, createLogger('auth-server', 'silent'));
    const http = createHttpServer(server.app.callback());
    try {
      const base = await http.listen(0, '127.0.0.1');
      const before = await fetch(`${base}/readyz`);
      assert.equal(before.status, 503);
      assert.equal((await before.json() as { checks: Record<string, string> }).checks.users, 'failed');
      assert.equal((await server.createBootstrapAdmin())?.username, 'admin');
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
    } finally {
      await http.shutdown(1000);
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
