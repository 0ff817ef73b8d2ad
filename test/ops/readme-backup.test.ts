/**
 * The README's "Backup and restore" commands, run as written (`gatehouse backup` and its sqlite3
 * VACUUM INTO alternative) in a directory laid out as a clone after `npm start`: `data/` holding
 * both live databases in WAL mode, with writes not yet checkpointed, and `keys/`. The copies must
 * hold those writes and stay readable only by their owner, like the files they copy. The Docker
 * block runs as one script (a failed step stops the rest) against a `docker` that plays compose;
 * the host restore block puts a backup back over a database an app left a -wal and -shm beside.
 * Not run: the Docker restore block (`docker compose run` as root in a one-off container).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { parse as parseYaml } from 'yaml';
import { SqliteDatabase } from '../../apps/shared/storage/sqlite-database.ts';
import { REPO_ROOT } from './support/processes.ts';
import { BIN } from '../cli/support/cli-runner.ts';

const section = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8').split(/^## /m).find((part) => part.startsWith('Backup and restore\n')) ?? '';
const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
const hasSqlite3 = spawnSync('sqlite3', ['-version']).status === 0;

/** A database in use: open, its last write still in the -wal (a row naming the file). */
function liveDatabase(dataDir: string, name: string): Database.Database {
  const db = new SqliteDatabase(join(dataDir, name)).handle;
  db.pragma('wal_autocheckpoint = 0');
  db.exec(`CREATE TABLE written (what TEXT); INSERT INTO written VALUES ('${name}')`);
  return db;
}

function writeKeys(keysDir: string): void {
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  for (const file of ['signing-keys.json', 'cookie-keys.json']) writeFileSync(join(keysDir, file), '{}', { mode: 0o600 });
}

/** A clone's state while it runs: both databases open, their last writes still in the -wal. */
function liveClone() {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-backup-'));
  const open = ['auth-server.db', 'resource-server.db'].map((name) => liveDatabase(join(dir, 'data'), name));
  writeKeys(join(dir, 'keys'));
  return { dir, close: () => open.forEach((db) => db.close()) };
}

/** Each line as a person types it (`npx gatehouse`, the compiled CLI in the image: the clone's CLI), in `cwd` with `env`. */
function runShell(lines: string[], cwd: string, env: Record<string, string> = {}): void {
  for (const line of lines) {
    const command = line.replace(/^npx gatehouse |^node dist\/apps\/auth-server\/src\/cli\/main\.js /, `node ${BIN} `);
    const result = spawnSync('sh', ['-ec', command], { cwd, encoding: 'utf8', env: { ...process.env, GATEHOUSE_CONFIG: '', DATA_DIR: '', KEYS_DIR: '', ...env } });
    assert.equal(result.status, 0, `\`${line}\` failed:\n${result.stderr}`);
  }
}

function assertBackedUp(dir: string, files: string[], name = 'backup'): void {
  const backup = join(dir, name);
  assert.equal(mode(backup), '700', 'the backup directory is the owner\'s only: it holds the keys and every user\'s password hash');
  for (const file of files) {
    assert.ok(readdirSync(backup).includes(file), `backup/${file}`);
    assert.equal(mode(join(backup, file)), '600', `backup/${file} is the owner's only`);
    if (!file.endsWith('.db')) continue;
    const copy = new Database(join(backup, file), { readonly: true });
    try {
      assert.equal(copy.prepare('SELECT what FROM written').pluck().get(), file, `${file} holds the write still in the live -wal`);
    } finally {
      copy.close();
    }
  }
}

/**
 * A `docker` for the Docker block, on PATH: `docker compose exec SERVICE …` runs the command with
 * the service's environment and `state` mapped to host/containers/SERVICE/state (the image's CLI,
 * `node dist/…/main.js`, is the clone's), and `docker compose cp SERVICE:PATH DEST` copies from
 * there. Anything else fails, naming it. Returns the directory to put first on PATH.
 */
function fakeDockerCompose(host: string, layout: { state: string; environment: Record<string, Record<string, string>> }): string {
  const bin = join(host, 'bin');
  mkdirSync(bin);
  const settings = JSON.stringify({ ...layout, host, cli: BIN, root: REPO_ROOT });
  writeFileSync(join(bin, 'docker'), `#!${process.execPath}
const { spawnSync } = require('node:child_process');
const { state, environment, host, cli, root } = ${settings};
const inside = (service, text) => text.replaceAll(state, host + '/containers/' + service + state);
const fail = (why) => { process.stderr.write('fake docker: ' + why + '\\n'); process.exit(97); };
const [compose, command, target = '', ...rest] = process.argv.slice(2);
if (compose !== 'compose') fail('not docker compose: ' + process.argv.slice(2).join(' '));
const run = (args, options) => process.exit(spawnSync(args[0], args.slice(1), { stdio: 'inherit', ...options }).status ?? 1);
if (command === 'exec') {
  const env = environment[target] ?? fail('no service ' + target + ' in docker-compose.yml');
  let args = rest.map((arg) => inside(target, arg));
  if (args[0] === 'node' && args[1] === 'dist/apps/auth-server/src/cli/main.js') args = [process.execPath, cli, ...args.slice(2)];
  run(args, { cwd: root, env: { ...process.env, DATA_DIR: inside(target, env.DATA_DIR), KEYS_DIR: inside(target, env.KEYS_DIR) } });
}
if (command === 'cp') {
  const [, service, path] = /^([^:]+):(.+)$/.exec(target) ?? fail('not SERVICE:PATH: ' + target);
  if (!environment[service]) fail('no service ' + service + ' in docker-compose.yml');
  run(['cp', '-R', inside(service, path), rest[0]], {});
}
fail('a command this test does not know: ' + process.argv.slice(2).join(' '));
`, { mode: 0o755 });
  return bin;
}

describe('README: Backup and restore, the commands as written', () => {
  test('the backup they write in the clone is kept out of git and of the Docker build context, keys included', () => {
    assert.match(/```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '', /^npx gatehouse backup backup\b/m, 'gatehouse backup writes into backup/');
    // The Docker block's dated directories, made in the clone too.
    for (const dir of ['backup', 'backup-20250101T000000Z']) {
      for (const file of ['auth-server.db', 'resource-server.db', 'signing-keys.json', 'cookie-keys.json']) {
        assert.equal(spawnSync('git', ['check-ignore', '-q', `${dir}/${file}`], { cwd: REPO_ROOT }).status, 0, `git ignores ${dir}/${file}`);
      }
    }
    const dockerignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim());
    assert.ok(dockerignore.includes('backup'), '.dockerignore leaves backup/ out of the build context');
    assert.ok(dockerignore.includes('backup-*'), '.dockerignore leaves the dated backup directories out of the build context');
  });


  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test('gatehouse backup copies both live databases and the keys into a backup only the owner can read', () => {
    const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(block, 'a sh block in the section');
    const lines = block.split('\n').map((line) => line.replace(/\s+#.*$/, '').trim()).filter(Boolean);
    const clone = liveClone();
    dirs.push(clone.dir);
    try {
      runShell(lines, clone.dir);
      assertBackedUp(clone.dir, ['auth-server.db', 'resource-server.db', 'signing-keys.json', 'cookie-keys.json']);
    } finally {
      clone.close();
    }
  });

  test('without the CLI, the sqlite3 VACUUM INTO command copies a database the same way', { skip: !hasSqlite3 && 'no sqlite3 on this machine' }, () => {
    const alternative = /`(mkdir -p -m 700 backup && \(umask 077 && sqlite3 [^`]*VACUUM INTO[^`]*)`/.exec(section)?.[1];
    assert.ok(alternative, 'a sqlite3 VACUUM INTO alternative in the section');
    const clone = liveClone();
    dirs.push(clone.dir);
    try {
      runShell([alternative], clone.dir);
      assertBackedUp(clone.dir, ['auth-server.db']);
    } finally {
      clone.close();
    }
  });

  // docker-compose.yml's layout: each app's database in its own volume at CONTAINER_STATE/data,
  // the auth-server's keys at CONTAINER_STATE/keys; the image's WORKDIR (/app) holds node_modules.
  test('in Docker, the block as written, one script: each command where it runs, in its container (its paths mapped to a directory laid out like it) or on the host', () => {
    const CONTAINER_STATE = '/var/lib/gatehouse';
    const compose = parseYaml(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string>; volumes?: string[] }>;
    };
    const block = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!).find((text) => text.includes('docker compose'));
    assert.ok(block, 'a sh block of docker compose commands in the section');
    const services = ['auth-server', 'resource-server'];
    for (const service of services) {
      const { environment = {}, volumes = [] } = compose.services[service] ?? {};
      assert.equal(environment.DATA_DIR, `${CONTAINER_STATE}/data`, `${service}'s DATA_DIR`);
      assert.ok(volumes.some((volume) => volume.endsWith(`:${CONTAINER_STATE}/data`)), `${service}'s data is a volume, so a copy there is kept until copied out`);
    }
    assert.equal(compose.services['auth-server']!.environment!.KEYS_DIR, `${CONTAINER_STATE}/keys`);

    const host = mkdtempSync(join(tmpdir(), 'gatehouse-docker-backup-'));
    dirs.push(host);
    const inside = (service: string, path: string) => path.replaceAll(CONTAINER_STATE, join(host, 'containers', service, CONTAINER_STATE));
    const open = services.map((service) => liveDatabase(inside(service, `${CONTAINER_STATE}/data`), `${service}.db`));
    writeKeys(inside('auth-server', `${CONTAINER_STATE}/keys`));
    // The container's environment: compose's, over the image's (Dockerfile: KEYS_DIR).
    const environment = Object.fromEntries(services.map((service) => [service, { KEYS_DIR: `${CONTAINER_STATE}/keys`, ...compose.services[service]!.environment }]));
    const bin = fakeDockerCompose(host, { state: CONTAINER_STATE, environment });
    try {
      runShell([block], host, { PATH: `${bin}:${process.env.PATH}` });
      const made = readdirSync(host).filter((name) => name.startsWith('backup'));
      assert.equal(made.length, 1, `one backup directory: ${made.join(', ')}`);
      assert.match(made[0]!, /^backup-\d{8}T\d{6}Z$/, 'a dated directory');
      assertBackedUp(host, ['auth-server.db', 'resource-server.db', 'signing-keys.json', 'cookie-keys.json'], made[0]);
      for (const service of services) {
        assert.deepEqual(readdirSync(inside(service, `${CONTAINER_STATE}/data`)).filter((file) => file.startsWith('backup')), [], `no copy left in ${service}'s volume`);
      }
      // A step that fails stops the rest: the next run, into a directory that exists, writes nothing.
      const failed = spawnSync('sh', ['-ec', block.replace(/^backup=.*&&$/m, `backup=${made[0]} &&`)], { cwd: host, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
      assert.notEqual(failed.status, 0);
      assert.match(failed.stderr, /mkdir: .*File exists/);
      for (const service of services) assert.ok(!readdirSync(inside(service, `${CONTAINER_STATE}/data`)).includes('backup'), `nothing run in ${service}`);
    } finally {
      open.forEach((db) => db.close());
    }
  });

  test('restoring on the host, as written: the files back 0600, the old -wal and -shm gone, readable by the apps', () => {
    const block = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!).find((text) => /^install /m.test(text));
    assert.ok(block, 'a sh block restoring with install');
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-restore-'));
    dirs.push(dir);
    const clone = liveClone();
    dirs.push(clone.dir);
    try {
      runShell(['npx gatehouse backup backup'], clone.dir);
    } finally {
      clone.close();
    }
    runShell([`cp -Rp '${join(clone.dir, 'backup')}' backup`, 'mkdir -m 700 data keys'], dir);
    // The databases being replaced, with what an app left beside them.
    for (const name of ['auth-server.db', 'resource-server.db']) {
      for (const suffix of ['', '-wal', '-shm']) writeFileSync(join(dir, 'data', `${name}${suffix}`), 'old', { mode: 0o644 });
    }
    runShell([block], dir);
    assert.deepEqual(readdirSync(join(dir, 'data')).sort(), ['auth-server.db', 'resource-server.db']);
    assert.deepEqual(readdirSync(join(dir, 'keys')).sort(), ['cookie-keys.json', 'signing-keys.json']);
    for (const file of ['data/auth-server.db', 'data/resource-server.db', 'keys/signing-keys.json', 'keys/cookie-keys.json']) {
      assert.equal(mode(join(dir, file)), '600', file);
    }
    for (const name of ['auth-server.db', 'resource-server.db']) {
      const restored = new Database(join(dir, 'data', name), { readonly: true });
      try {
        assert.equal(restored.prepare('SELECT what FROM written').pluck().get(), name);
      } finally {
        restored.close();
      }
    }
  });
});
