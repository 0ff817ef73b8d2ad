/**
 * `gatehouse backup DIRECTORY`: a copy of the auth-server's database (and the resource server's,
 * beside it) and its key files, taken while the server writes. SQLite's online backup
 * (better-sqlite3's `backup()`, sqlite3's `.backup`) starts over at every write between its steps
 * and, beside a server refreshing tokens, did not finish; VACUUM INTO reads one snapshot. The copy
 * restores: a server started on it and the keys takes a refresh token issued before the backup.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, constants, copyFileSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteDatabase } from '../../apps/shared/storage/sqlite-database.ts';
import { storedId } from '../../apps/auth-server/src/provider/stored-form.ts';
import { storedModel } from '../../apps/auth-server/src/provider/stored-model.ts';
import { NOBODY } from '../helpers/run-as-nobody.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { CLAUDE_DCR_BODY, connect, redeem, refresh, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { exitedWithin, kill, run } from '../ops/support/processes.ts';
import { BIN, envFor, makeCliDir, runCli, spawnCli } from './support/cli-runner.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

/** About 5 MB of audit rows: some 1,200 pages, a dozen steps of better-sqlite3's backup (100 pages each), each restarted by a write. */
function fillAuditLog(server: TestAuthServer): void {
  const { handle } = server.auth.database as SqliteDatabase;
  const insert = handle.prepare('INSERT INTO audit_events (at, grant_id, details) VALUES (?, ?, ?)');
  handle.transaction(() => {
    for (let i = 0; i < 20_000; i++) insert.run(Date.now() - 1000, 'g'.repeat(43), `{"x":"${'y'.repeat(200)}"}`);
  })();
}

async function refreshToken(issuer: string, client: RegisteredClient): Promise<string> {
  const consent = await connect(issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
  return (await redeem(issuer, client, consent)).body.refresh_token as string;
}

describe('gatehouse backup while the auth-server refreshes tokens', () => {
  const running = new Set<TestAuthServer>();
  const dirs: string[] = [];
  after(async () => {
    for (const server of running) await server.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test('completes under load; the copy holds the users and the tokens, and a server restored from it refreshes', async () => {
    const server = await startAuthServer({ dir: mkdtempSync(join(tmpdir(), 'gatehouse-backup-live-')) });
    running.add(server);
    dirs.push(server.dir);
    fillAuditLog(server);
    const client = await registerClient(server.issuer, CLAUDE_DCR_BODY);
    const kept = await refreshToken(server.issuer, client);

    // The writers: refresh after refresh, each a commit, as long as the backup runs.
    const issued: Array<{ token: string; at: number }> = [];
    let stop = false;
    const writers = (async () => {
      let token = await refreshToken(server.issuer, client);
      while (!stop) {
        const response = await refresh(server.issuer, client, token);
        assert.equal(response.status, 200, JSON.stringify(response.body));
        token = response.body.refresh_token as string;
        issued.push({ token, at: Date.now() });
      }
    })();
    while (issued.length < 5) await Promise.race([writers, new Promise((resolve) => setImmediate(resolve))]);

    const backup = join(server.dir, 'backup');
    const started = Date.now();
    const env = { DATA_DIR: join(server.dir, 'data'), KEYS_DIR: join(server.dir, 'keys') };
    const result = await spawnCli(server.dir, ['backup', backup], { env: { ...env, GATEHOUSE_CONFIG: '' } });
    const finished = Date.now();
    stop = true;
    await writers;
    assert.equal(result.code, 0, result.stderr);
    const during = issued.filter(({ at }) => at > started && at < finished).length;
    assert.ok(during >= 5, `the server kept writing during the backup (${during} refreshes)`);
    assert.match(result.stderr, /note: not copied: the resource server's database \(no .*resource-server\.db\); .*VACUUM INTO/);

    assert.equal(mode(backup), '700');
    assert.deepEqual(readdirSync(backup).sort(), ['auth-server.db', 'cookie-keys.json', 'signing-keys.json'], 'no temporary file is left');
    for (const file of readdirSync(backup)) assert.equal(mode(join(backup, file)), '600', file);
    const copy = new Database(join(backup, 'auth-server.db'), { readonly: true });
    let written: string[];
    try {
      assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
      assert.deepEqual(copy.prepare('SELECT username FROM users').pluck().all(), ['admin']);
      const row = copy.prepare('SELECT 1 FROM oidc_models WHERE model = ? AND id = ?').pluck();
      const has = (token: string) => row.get(storedModel('RefreshToken'), storedId('RefreshToken', token)) === 1;
      assert.ok(has(kept), 'the refresh token issued before the backup');
      written = issued.filter(({ at, token }) => at > started && has(token)).map(({ token }) => token);
    } finally {
      copy.close();
    }
    assert.ok(written.length > 0, 'it holds refresh tokens issued after the command started: a snapshot taken while the server wrote');

    // Restore as the README says: the files into DATA_DIR and KEYS_DIR, a server started on them (the same issuer).
    const port = Number(new URL(server.issuer).port);
    await server.close();
    running.delete(server);
    const restoreDir = mkdtempSync(join(tmpdir(), 'gatehouse-backup-restored-'));
    dirs.push(restoreDir);
    mkdirSync(join(restoreDir, 'data'), { mode: 0o700 });
    mkdirSync(join(restoreDir, 'keys'), { mode: 0o700 });
    copyFileSync(join(backup, 'auth-server.db'), join(restoreDir, 'data', 'auth-server.db'));
    for (const file of ['signing-keys.json', 'cookie-keys.json']) copyFileSync(join(backup, file), join(restoreDir, 'keys', file));
    const restored = await startAuthServer({ dir: restoreDir, port });
    running.add(restored);
    const refreshed = await refresh(restored.issuer, client, kept);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  });
});

describe('gatehouse backup: the directory and what is in it', () => {
  let dir: string;
  before(async () => {
    dir = makeCliDir('gatehouse-cli-backup-');
    assert.equal((await runCli(dir, ['keys', 'rotate'])).code, 0);
    // The server makes the cookie keys at its first start; the CLI, never.
    writeFileSync(join(dir, 'keys', 'cookie-keys.json'), '{}', { mode: 0o600 });
    assert.equal((await runCli(dir, ['users', 'add', 'alice'], 'alice password 1234\n')).code, 0);
    const resource = new SqliteDatabase(join(dir, 'data', 'resource-server.db'));
    resource.handle.exec("CREATE TABLE written (what TEXT); INSERT INTO written VALUES ('resource')");
    await resource.close();
    writeFileSync(join(dir, 'a-file'), '');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('copies both databases in DATA_DIR and the keys; a second run into the same directory is refused and changes nothing', async () => {
    const backup = join(dir, 'backup');
    const started = Date.now();
    const first = await runCli(dir, ['--json', 'backup', backup]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stderr, '');
    const printed = JSON.parse(first.stdout) as { taken_at: string; files: Array<{ file: string }> };
    const files = printed.files.map(({ file }) => file);
    // What a restore brings back: the moment the copy was begun.
    assert.ok(Date.parse(printed.taken_at) >= started && Date.parse(printed.taken_at) <= Date.now(), printed.taken_at);
    assert.deepEqual(files, ['auth-server.db', 'resource-server.db', 'signing-keys.json', 'cookie-keys.json'].map((file) => join(backup, file)));
    assert.deepEqual((printed as { not_found?: unknown }).not_found, [], 'every file it looks for was there');
    assert.equal(mode(backup), '700');
    for (const file of files) assert.equal(mode(file), '600', file);
    const resource = new Database(join(backup, 'resource-server.db'), { readonly: true });
    assert.equal(resource.prepare('SELECT what FROM written').pluck().get(), 'resource');
    resource.close();
    const before = statSync(join(backup, 'auth-server.db')).mtimeMs;

    const second = await runCli(dir, ['backup', backup]);
    assert.equal(second.code, 1);
    assert.equal(second.stderr, `gatehouse: ${join(backup, 'auth-server.db')} exists, and a backup is never overwritten: choose another DIRECTORY; nothing was written\n`);
    assert.equal(statSync(join(backup, 'auth-server.db')).mtimeMs, before);
    assert.equal(readdirSync(backup).length, 4);
  });

  const odd: Array<{ what: string; directory: () => string; code: number; stderr: RegExp }> = [
    { what: 'a directory whose parent does not exist', directory: () => join(dir, 'no', 'such'), code: 1, stderr: /cannot make the backup directory .*\/no\/such: its parent directory does not exist; nothing was written/ },
    { what: 'a file', directory: () => join(dir, 'a-file'), code: 1, stderr: /cannot make the backup directory .*\/a-file: it is a file, not a directory; nothing was written/ },
    { what: 'a path through a file', directory: () => join(dir, 'a-file', 'backup'), code: 1, stderr: /: a part of its path is a file, not a directory; nothing was written/ },
    { what: 'a name too long', directory: () => 'x'.repeat(15_000), code: 1, stderr: /cannot make the backup directory .*x{100}…: the name is too long; nothing was written/ },
    { what: 'an empty argument', directory: () => ' ', code: 2, stderr: /DIRECTORY is empty\n {2}npx gatehouse backup \[--without-keys\] DIRECTORY/ },
  ];
  for (const { what, directory, code, stderr } of odd) {
    test(`${what}: one line, exit ${code}, nothing made`, async () => {
      const result = await runCli(dir, ['backup', directory()]);
      assert.equal(result.code, code);
      assert.match(result.stderr, stderr);
      if (code === 1) assert.equal(result.stderr.split('\n').length, 2, `one line: ${result.stderr}`);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(result.stdout, '');
    });
  }

  // Another user who may write in DIRECTORY could swap a file being written for theirs, or for a
  // symbolic link (the review's backup-swap.sh); one who may read it sees what it holds, and any
  // file later copied in with a looser mode: such a directory is refused before anything is in it.
  const yours = (mode: string, may: string, path: (name: string) => string = (name) => name) => (name: string) => `users other than its owner may ${may} (mode ${mode}), `
    + `and it is to hold the signing keys and every password hash; make it yours alone first (chmod 700 ${path(name)}), or name a directory that does not exist yet (it is made 0700)`;
  const shared: Array<{ what: string; make: (path: string) => void; says: (path: string) => string; skip?: string | false; name?: string }> = [
    { what: 'writable by everyone', make: (path) => { mkdirSync(path); chmodSync(path, 0o777); }, says: yours('777', 'write in it') },
    { what: 'writable by its group', make: (path) => { mkdirSync(path); chmodSync(path, 0o770); }, says: yours('770', 'write in it') },
    // mkdir under the usual umask (022): the keys would be in a directory anyone may list.
    { what: 'readable by everyone (0755)', make: (path) => { mkdirSync(path); chmodSync(path, 0o755); }, says: yours('755', 'list it or enter it') },
    { what: 'readable by its group (0750)', make: (path) => { mkdirSync(path); chmodSync(path, 0o750); }, says: yours('750', 'list it or enter it') },
    { what: 'that others may enter (0711)', make: (path) => { mkdirSync(path); chmodSync(path, 0o711); }, says: yours('711', 'list it or enter it') },
    {
      what: 'readable by everyone, named with a space and a quote',
      name: "it's mine",
      make: (path) => { mkdirSync(path); chmodSync(path, 0o755); },
      says: yours('755', 'list it or enter it', (path) => `'${path.replace("'", "'\\''")}'`),
    },
    {
      what: 'owned by another user, even 0700',
      make: (path) => { mkdirSync(path, { mode: 0o700 }); chownSync(path, NOBODY, NOBODY); },
      says: () => `it belongs to uid ${NOBODY}, not to this user (uid 0); name a directory that does not exist yet (it is made 0700)`,
      skip: process.geteuid?.() !== 0 && 'needs root to give a directory to nobody',
    },
    {
      what: 'a symbolic link to a directory of ours',
      make: (path) => { mkdirSync(`${path}-target`, { mode: 0o700 }); symlinkSync(`${path}-target`, path); },
      says: () => 'it is a symbolic link; name the directory itself',
    },
  ];
  for (const [i, { what, make, says, skip, name }] of shared.entries()) {
    test(`an existing DIRECTORY ${what}: refused in one line, nothing written in it`, { skip }, async () => {
      const backup = join(dir, name ?? `shared-${i}`);
      make(backup);
      const result = await runCli(dir, ['backup', backup]);
      assert.equal(result.code, 1);
      assert.equal(result.stderr, `gatehouse: cannot back up into ${backup}: ${says(backup)}; nothing was written\n`);
      assert.equal(result.stdout, '');
      assert.deepEqual(readdirSync(backup), []);
    });
  }

  test('an existing DIRECTORY made 0700 as the refusal says: the backup goes into it', async () => {
    const backup = join(dir, 'made-private');
    mkdirSync(backup);
    chmodSync(backup, 0o755);
    assert.equal((await runCli(dir, ['backup', backup])).code, 1);
    assert.equal(spawnSync('sh', ['-c', `chmod 700 ${backup}`]).status, 0);
    const result = await runCli(dir, ['backup', backup]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(readdirSync(backup).sort(), ['auth-server.db', 'cookie-keys.json', 'resource-server.db', 'signing-keys.json']);
  });

  test('a database that is not SQLite: refused in one line naming it, before DIRECTORY is made', async () => {
    const broken = makeCliDir('gatehouse-cli-backup-broken-');
    try {
      mkdirSync(join(broken, 'data'));
      writeFileSync(join(broken, 'data', 'auth-server.db'), 'not a database');
      const backup = join(broken, 'backup');
      const result = await runCli(broken, ['backup', backup]);
      assert.equal(result.code, 1);
      assert.equal(result.stderr, `gatehouse: cannot read ${join(broken, 'data', 'auth-server.db')}: file is not a database; nothing was written\n`);
      assert.throws(() => statSync(backup), { code: 'ENOENT' });
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });

  test('the text output says when the backup was taken, and that a restore undoes what was done after it', async () => {
    const backup = join(dir, 'text-backup');
    const result = await runCli(dir, ['backup', backup]);
    assert.equal(result.code, 0, result.stderr);
    const at = /^backed up into .*, as it was at (\S+Z) \(store it encrypted/.exec(result.stdout)?.[1];
    assert.ok(at && !Number.isNaN(Date.parse(at)), result.stdout);
    assert.match(result.stdout, new RegExp(`\\na restore undoes everything done after ${at}: revocations, disabled users, password changes, key rotations and retirements must be done again\\n$`));
  });

  test('on PostgreSQL it says to use pg_dump and writes nothing', async () => {
    const backup = join(dir, 'pg-backup');
    const result = await runCli(dir, ['backup', backup], '', {
      DATABASE_URL: 'postgres://gatehouse@127.0.0.1:1/gatehouse',
      GATEHOUSE_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^gatehouse: the database is PostgreSQL \(DATABASE_URL\), keys included: back it up with pg_dump .*; nothing was written\n$/);
    assert.throws(() => statSync(backup), { code: 'ENOENT' });
  });
});

/** A CLI directory as a server leaves it: signing and cookie keys, the auth-server's database with a user, the resource server's beside it (`resourceBytes` of rows). */
async function deployment(prefix: string, resourceBytes = 0): Promise<string> {
  const dir = makeCliDir(prefix);
  assert.equal((await runCli(dir, ['keys', 'rotate'])).code, 0);
  writeFileSync(join(dir, 'keys', 'cookie-keys.json'), '{}', { mode: 0o600 });
  assert.equal((await runCli(dir, ['users', 'add', 'alice'], 'alice password 1234\n')).code, 0);
  const resource = new SqliteDatabase(join(dir, 'data', 'resource-server.db'));
  resource.handle.exec('CREATE TABLE written (what TEXT)');
  resource.handle.prepare('INSERT INTO written VALUES (?)').run('r'.repeat(resourceBytes));
  await resource.close();
  return dir;
}

describe('gatehouse backup: the signing keys go with the auth-server\'s database', () => {
  let dir: string;
  before(async () => {
    dir = await deployment('gatehouse-cli-backup-keys-');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  // A cron job whose KEYS_DIR was wrong made backups that signed everyone out once restored.
  test('a KEYS_DIR without signing-keys.json: refused in one line, exit 1, nothing made', async () => {
    const empty = join(dir, 'no-keys');
    mkdirSync(empty);
    const backup = join(dir, 'refused');
    const result = await runCli(dir, ['backup', backup], '', { KEYS_DIR: empty });
    assert.equal(result.code, 1);
    assert.equal(result.stderr, `gatehouse: KEYS_DIR (${empty}) holds no signing keys (signing-keys.json) to back up with ${join(dir, 'data', 'auth-server.db')}: `
      + 'point KEYS_DIR at the keys of the server that uses this database, or pass --without-keys to back up without them '
      + '(restored without them, access tokens and browser sessions issued before then stop working); nothing was written\n');
    assert.equal(result.stdout, '');
    assert.throws(() => statSync(backup), { code: 'ENOENT' });
  });

  // The server makes cookie-keys.json at its first start, never the CLI: a KEYS_DIR it never started
  // on has none. Restored without it, browsers sign in again and tokens stay valid: not refused,
  // but said, for the restore to leave it out.
  test('a KEYS_DIR without cookie-keys.json: backed up without it, and it says so, on stderr and in --json\'s not_found', async () => {
    const keysDir = join(dir, 'signing-keys-only');
    mkdirSync(keysDir, { mode: 0o700 });
    copyFileSync(join(dir, 'keys', 'signing-keys.json'), join(keysDir, 'signing-keys.json'));
    const backup = join(dir, 'no-cookie-keys');
    const result = await runCli(dir, ['--json', 'backup', backup], '', { KEYS_DIR: keysDir });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(readdirSync(backup).sort(), ['auth-server.db', 'resource-server.db', 'signing-keys.json']);
    assert.deepEqual((JSON.parse(result.stdout) as { not_found: unknown }).not_found, [{ file: join(keysDir, 'cookie-keys.json'), what: 'cookie keys' }]);
    assert.equal(result.stderr, `gatehouse: note: not copied: the cookie keys (no ${join(keysDir, 'cookie-keys.json')}); a server restored from this backup makes new ones at its start, `
      + 'which signs browsers out (access and refresh tokens stay valid): restore it without cookie-keys.json\n');
  });

  // The copies are made by a child process, which reports on its stdout: a module loaded by every
  // Node process (NODE_OPTIONS) that prints there too must not be taken for its report.
  test('a NODE_OPTIONS module that prints on stdout: the backup is whole and says so', async () => {
    const printer = join(dir, 'prints.cjs');
    writeFileSync(printer, "process.stdout.write('not a report\\n');\n");
    const backup = join(dir, 'with-node-options');
    const result = await spawnCli(dir, ['backup', backup], { env: { NODE_OPTIONS: `--require ${printer}` } });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^(not a report\n)+backed up into /);
    assert.deepEqual(readdirSync(backup).sort(), ['auth-server.db', 'cookie-keys.json', 'resource-server.db', 'signing-keys.json']);
  });

  test('--without-keys backs up the databases alone, and says so', async () => {
    const backup = join(dir, 'without-keys');
    const result = await runCli(dir, ['backup', '--without-keys', backup]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(readdirSync(backup).sort(), ['auth-server.db', 'resource-server.db']);
    assert.match(result.stdout, /\nkeys: none copied \(--without-keys\): restored without them, access tokens and browser sessions issued before then stop working\n/);
  });
});

describe('gatehouse backup writes all of its files or none', () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  // A backup directory on a file system with room for the auth-server's database but not the
  // resource server's: a disk that fills half-way through.
  test('a disk that fills half-way: none of the files is left under its name, and it says nothing was written', { skip: process.geteuid?.() !== 0 && 'needs root to mount a small file system' }, async () => {
    const dir = await deployment('gatehouse-cli-backup-full-', 1024 * 1024);
    dirs.push(dir);
    const backup = join(dir, 'small-disk');
    mkdirSync(backup, { mode: 0o700 });
    assert.ok(statSync(join(dir, 'data', 'auth-server.db')).size < 400 * 1024, 'the auth-server\'s database fits');
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512k,mode=700', 'tmpfs', backup], { encoding: 'utf8' });
    assert.equal(mount.status, 0, mount.stderr);
    try {
      const result = await runCli(dir, ['backup', backup]);
      assert.equal(result.code, 1);
      assert.deepEqual(readdirSync(backup), [], 'no auth-server.db without the rest, no staging directory');
      assert.equal(result.stderr, `gatehouse: cannot copy ${join(dir, 'data', 'resource-server.db')} to ${join(backup, 'resource-server.db')}: database or disk is full; nothing was written\n`);
    } finally {
      spawnSync('umount', [backup]);
    }
  });

  // Two runs into one DIRECTORY: the other's file appears after this run checked the names, while
  // it copies. cookie-keys.json as a FIFO holds this run at its last copy until the test has made
  // the other run's file.
  test('a file that appears under one of its names while it copies: refused as such, what it linked removed, the other file kept', async () => {
    const dir = await deployment('gatehouse-cli-backup-race-');
    dirs.push(dir);
    const fifo = cookieKeysAsFifo(dir);
    const backup = join(dir, 'raced');
    const running = spawnCli(dir, ['backup', backup]);
    const writer = await openOnceRead(fifo, running.then((result) => result.stderr));
    writeFileSync(join(backup, 'cookie-keys.json'), 'the other backup\'s', { mode: 0o600 });
    writeSync(writer, '{}');
    closeSync(writer);
    const result = await running;
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stderr, `gatehouse: ${join(backup, 'cookie-keys.json')} appeared while this backup ran (another backup into ${backup}?), `
      + 'and a backup is never overwritten: choose another DIRECTORY; nothing was written\n');
    assert.deepEqual(readdirSync(backup), ['cookie-keys.json'], 'the three files it had linked are removed');
    assert.equal(readFileSync(join(backup, 'cookie-keys.json'), 'utf8'), 'the other backup\'s');
  });

  // Stopped while it copies (held at its last copy by a FIFO, the three files before it staged):
  // it removes its private directory and says so, rather than dying with it left in DIRECTORY.
  // The exit code is a shell's for a command the signal ended (128 + its number): a script tells
  // a backup someone stopped from one that failed.
  const stops: Array<{ what: string; signal: NodeJS.Signals; group: boolean; code: number }> = [
    { what: 'Ctrl-C at a terminal (SIGINT to its process group)', signal: 'SIGINT', group: true, code: 130 },
    { what: 'kill (SIGTERM to the CLI alone)', signal: 'SIGTERM', group: false, code: 143 },
    { what: 'a closed terminal (SIGHUP to its process group)', signal: 'SIGHUP', group: true, code: 129 },
  ];
  for (const { what, signal, group, code } of stops) {
    test(`${what} while it copies: nothing is left in DIRECTORY, one line says so, exit ${code}, no process left`, async () => {
      const dir = await deployment('gatehouse-cli-backup-stopped-');
      dirs.push(dir);
      const fifo = cookieKeysAsFifo(dir);
      const backup = join(dir, 'stopped');
      const cli = run(process.execPath, [BIN, 'backup', backup], envFor(dir) as Record<string, string>);
      let writer: number | undefined;
      try {
        writer = await openOnceRead(fifo, cli.exited.then(() => cli.output()));
        assert.equal(readdirSync(backup).length, 1, 'its private directory, the copy under way');
        cli.signal(signal, { group });
        assert.deepEqual(await exitedWithin(cli, 60_000, 'the stopped backup'), { code, signal: null }, cli.output());
        assert.equal(cli.output(), `gatehouse: interrupted (${signal}) while copying ${fifo}; nothing was kept\n`);
        assert.deepEqual(readdirSync(backup), []);
        assert.throws(() => process.kill(-cli.child.pid!, 0), { code: 'ESRCH' }, 'the process that copied is gone too');
      } finally {
        if (writer !== undefined) closeSync(writer);
        kill(cli);
      }
    });
  }
});

/** Makes KEYS_DIR/cookie-keys.json a FIFO: a backup that reads it waits there until the test writes it. */
function cookieKeysAsFifo(dir: string): string {
  const fifo = join(dir, 'keys', 'cookie-keys.json');
  rmSync(fifo);
  assert.equal(spawnSync('mkfifo', ['-m', '600', fifo]).status, 0);
  return fifo;
}

/**
 * Opens `fifo` to write once the backup has opened it to read: it is then at that copy. Opening a
 * FIFO to write without blocking fails (ENXIO) until a reader has it open. A child CLI takes
 * seconds to start on a loaded machine. `ended` (what it printed) fails the wait when it ends first.
 */
function openOnceRead(fifo: string, ended: Promise<string>): Promise<number> {
  return Promise.race([
    waitFor('the backup to open cookie-keys.json', () => {
      try {
        return openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENXIO') return undefined;
        throw err;
      }
    }, 60_000),
    ended.then((output) => assert.fail(`the backup ended before it read cookie-keys.json: ${output}`)),
  ]);
}
