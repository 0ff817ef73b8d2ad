/**
 * The README's "Backup and restore" commands, run as written (sqlite3 and its better-sqlite3
 * alternative) in a directory laid out as a clone after `npm start`: `data/` holding both live
 * databases in WAL mode, with writes not yet checkpointed, and `keys/`. The copies must hold those
 * writes and stay readable only by their owner, like the files they copy.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteDatabase } from '../../apps/shared/storage/sqlite-database.ts';
import { REPO_ROOT } from './support/processes.ts';

const section = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8').split(/^## /m).find((part) => part.startsWith('Backup and restore\n')) ?? '';
const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
const hasSqlite3 = spawnSync('sqlite3', ['-version']).status === 0;

/** A clone's state while it runs: both databases open, their last writes still in the -wal. */
function liveClone() {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-backup-'));
  const open = ['auth-server.db', 'resource-server.db'].map((name) => {
    const db = new SqliteDatabase(join(dir, 'data', name)).handle;
    db.pragma('wal_autocheckpoint = 0');
    db.exec(`CREATE TABLE written (what TEXT); INSERT INTO written VALUES ('${name}')`);
    return db;
  });
  mkdirSync(join(dir, 'keys'), { mode: 0o700 });
  for (const file of ['signing-keys.json', 'cookie-keys.json']) writeFileSync(join(dir, 'keys', file), '{}', { mode: 0o600 });
  return { dir, close: () => open.forEach((db) => db.close()) };
}

/** Each line as a person types it in the clone (NODE_PATH: the clone's node_modules, for `require`). */
function runShell(lines: string[], cwd: string): void {
  for (const line of lines) {
    const result = spawnSync('sh', ['-ec', line], { cwd, encoding: 'utf8', env: { ...process.env, NODE_PATH: join(REPO_ROOT, 'node_modules') } });
    assert.equal(result.status, 0, `\`${line}\` failed:\n${result.stderr}`);
  }
}

function assertBackedUp(dir: string, files: string[]): void {
  const backup = join(dir, 'backup');
  assert.equal(mode(backup), '700', 'the backup directory is the owner\'s only: it holds the keys and every user\'s password hash');
  for (const file of files) {
    assert.ok(readdirSync(backup).includes(file), `backup/${file}`);
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
    assert.match(/```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '', /cp -p keys\/\*\.json backup\//, 'the keys are copied into backup/');
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

  test('the sqlite3 commands copy both live databases and the keys into a backup only the owner can read', { skip: !hasSqlite3 && 'no sqlite3 on this machine' }, () => {
    const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(block, 'a sh block in the section');
    const lines = block.split('\n').map((line) => line.replace(/\s+#.*$/, '').trim()).filter(Boolean);
    assert.ok(lines.some((line) => line.startsWith('sqlite3 ')), 'it uses sqlite3');
    const clone = liveClone();
    dirs.push(clone.dir);
    try {
      runShell(lines, clone.dir);
      assertBackedUp(clone.dir, ['auth-server.db', 'resource-server.db', 'signing-keys.json', 'cookie-keys.json']);
    } finally {
      clone.close();
    }
  });

  test('without sqlite3, the better-sqlite3 command does the same', () => {
    const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const prepare = block.split('\n').map((line) => line.trim()).filter((line) => /^(mkdir|umask)\b/.test(line));
    const alternative = /`(node -e "require\('better-sqlite3'\)[^`]*)`/.exec(section)?.[1];
    assert.ok(alternative, 'a node -e alternative in the section');
    const clone = liveClone();
    dirs.push(clone.dir);
    try {
      runShell([...prepare, alternative], clone.dir);
      assertBackedUp(clone.dir, ['auth-server.db']);
    } finally {
      clone.close();
    }
  });
});
