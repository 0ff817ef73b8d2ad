/**
 * A command that finds no SQLite database where DATA_DIR points makes a new, empty one, as the
 * server does at its first start; it says so on stderr, naming the file. Without the note a typo
 * in DATA_DIR reads as "there are no users". stdout stays the command's output (`--json` parses).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeCliDir, runCli } from './support/cli-runner.ts';

const note = (file: string) => `gatehouse: note: there was no database at ${file}; created a new, empty one (check DATA_DIR if you expected data)\n`;

describe('gatehouse on a DATA_DIR without a database', () => {
  let dir: string;

  before(async () => {
    dir = makeCliDir('gatehouse-cli-new-db-');
    const first = await runCli(dir, ['users', 'add', 'alice'], 'alice password 1234\n');
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stderr, note(join(dir, 'data', 'auth-server.db')), 'the first command makes the database and says so');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('a mistyped DATA_DIR: users list shows no users, and the note names the new file', async () => {
    const typo = join(dir, 'dtaa');
    const result = await runCli(dir, ['--json', 'users', 'list'], '', { DATA_DIR: typo });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), [], 'stdout is still the command\'s JSON');
    assert.equal(result.stderr, note(join(typo, 'auth-server.db')));
  });

  test('the database that exists: no note', async () => {
    const result = await runCli(dir, ['--json', 'users', 'list']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual((JSON.parse(result.stdout) as Array<{ username: string }>).map((u) => u.username), ['alice']);
    assert.equal(result.stderr, '');
  });

  test('keys rotate on a KEYS_DIR no server has used says the keys are new, naming the directory', async () => {
    const keysDir = join(dir, 'no-keys-here');
    const first = await runCli(dir, ['keys', 'rotate'], '', { KEYS_DIR: keysDir });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stderr, `gatehouse: note: there were no signing keys in ${keysDir}; created new ones (check KEYS_DIR if you expected a server's keys)\n`);
    assert.match(first.stdout, /^created signing keys: \S+ signs, and a next key is published for the next rotation\n$/);
    assert.doesNotMatch(first.stdout, /previous rotation|switches/, 'no switch of a running server is announced');
    const second = await runCli(dir, ['keys', 'rotate'], '', { KEYS_DIR: keysDir });
    assert.equal(second.stderr, '', 'keys that exist: no note');
    assert.match(second.stdout, /^now signing with \S+ \(published since the previous rotation\)/);
  });

  test('a command that does not use the database makes none and says nothing', async () => {
    const result = await runCli(dir, ['hash-password'], 'some password 1234\n', { DATA_DIR: join(dir, 'unused') });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
  });
});
