/**
 * The README's "Backup and restore" commands, run as written (`gatehouse backup` and its sqlite3
 * VACUUM INTO alternative) in a directory laid out as a clone after `npm start`: `data/` holding
 * both live databases in WAL mode, with writes not yet checkpointed, and `keys/`. The copies must
 * hold those writes and stay readable only by their owner, like the files they copy.
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

function assertBackedUp(dir: string, files: string[]): void {
  const backup = join(dir, 'backup');
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

describe('README: Backup and restore, the commands as written', () => {
  test('the backup they write in the clone is kept out of git and of the Docker build context, keys included', () => {
    assert.match(/```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '', /^npx gatehouse backup backup\b/m, 'gatehouse backup writes into backup/');
    for (const file of ['backup/auth-server.db', 'backup/resource-server.db', 'backup/signing-keys.json', 'backup/cookie-keys.json']) {
      assert.equal(spawnSync('git', ['check-ignore', '-q', file], { cwd: REPO_ROOT }).status, 0, `git ignores ${file}`);
    }
    const dockerignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim());
    assert.ok(dockerignore.includes('backup'), '.dockerignore leaves backup/ out of the build context');
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
  test('in Docker, the commands as written, each where it runs: in its container (its paths mapped to a directory laid out like it) or on the host', () => {
    const CONTAINER_STATE = '/var/lib/gatehouse';
    const compose = parseYaml(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string>; volumes?: string[] }>;
    };
    const block = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!).find((text) => text.includes('docker compose'));
    assert.ok(block, 'a sh block of docker compose commands in the section');
    const lines = block.split('\n').map((line) => line.replace(/\s+#.*$/, '').trim()).filter(Boolean);
    const services = ['auth-server', 'resource-server'];
    for (const service of services) {
      const { environment = {}, volumes = [] } = compose.services[service] ?? {};
      assert.equal(environment.DATA_DIR, `${CONTAINER_STATE}/data`, `${service}'s DATA_DIR`);
      assert.ok(volumes.some((volume) => volume.endsWith(`:${CONTAINER_STATE}/data`)), `${service}'s data is a volume, so a copy there is kept until copied out`);
    }
    assert.equal(compose.services['auth-server']!.environment!.KEYS_DIR, `${CONTAINER_STATE}/keys`);

    const host = mkdtempSync(join(tmpdir(), 'gatehouse-docker-backup-'));
    dirs.push(host);
    const inside = (service: string, text: string) => text.replaceAll(CONTAINER_STATE, join(host, 'containers', service, CONTAINER_STATE));
    const open = services.map((service) => liveDatabase(inside(service, `${CONTAINER_STATE}/data`), `${service}.db`));
    writeKeys(inside('auth-server', `${CONTAINER_STATE}/keys`));
    try {
      for (const line of lines) {
        const exec = /^docker compose exec (\S+) (.+)$/.exec(line);
        const copy = /^docker compose cp (\S+?):(\S+) (\S+)$/.exec(line);
        if (exec) {
          assert.ok(services.includes(exec[1]!), `a service of docker-compose.yml: ${line}`);
          // The container's environment: compose's, over the image's (Dockerfile: KEYS_DIR).
          const env: Record<string, string> = { KEYS_DIR: `${CONTAINER_STATE}/keys`, ...compose.services[exec[1]!]!.environment };
          runShell([inside(exec[1]!, exec[2]!)], REPO_ROOT, { DATA_DIR: inside(exec[1]!, env.DATA_DIR!), KEYS_DIR: inside(exec[1]!, env.KEYS_DIR!) });
        } else if (copy) {
          runShell([`cp -R '${inside(copy[1]!, copy[2]!)}' ${copy[3]}`], host);
        } else {
          assert.match(line, /^mkdir /, `a line this test does not know how to run: ${line}`);
          runShell([line], host);
        }
      }
      assertBackedUp(host, ['auth-server.db', 'resource-server.db', 'signing-keys.json', 'cookie-keys.json']);
      for (const service of services) {
        assert.deepEqual(readdirSync(inside(service, `${CONTAINER_STATE}/data`)).filter((file) => file.startsWith('backup')), [], `no copy left in ${service}'s volume`);
      }
    } finally {
      open.forEach((db) => db.close());
    }
  });
});
