/**
 * `gatehouse users rename USERNAME NEW_USERNAME`: the new name under the rules every new username
 * follows, refused with exit 1 and a message when it breaks them or is taken, 2 for a wrong command
 * line. `users list` flags the names stored before those rules, which are what to rename. The
 * pages' Rename form and the store are test/admin/rename-user.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { makeCliDir, runCli } from './support/cli-runner.ts';

describe('gatehouse users rename', () => {
  let dir: string;

  before(async () => {
    dir = makeCliDir('gatehouse-cli-rename-');
    for (const name of ['alice', 'bruno']) assert.equal((await runCli(dir, ['users', 'add', name], `${name} password 123\n`)).code, 0);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const usernames = async () => (JSON.parse((await runCli(dir, ['--json', 'users', 'list'])).stdout) as Array<{ username: string }>).map((u) => u.username);

  test('renames a user, says so, and records who did it in the audit log', async () => {
    const result = await runCli(dir, ['users', 'rename', 'alice', 'alice.smith']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'renamed alice to alice.smith\n');
    assert.deepEqual(await usernames(), ['alice.smith', 'bruno']);
    const audit = await runCli(dir, ['audit', 'tail', '--event', 'user.renamed']);
    assert.match(audit.stdout, / {2}user\.renamed {2}actor=cli {2}user_id=[0-9a-f-]{36} from=alice to=alice\.smith\n$/);
  });

  test('--json gives the user as renamed and the name it had', async () => {
    const result = await runCli(dir, ['--json', 'users', 'rename', 'alice.smith', 'Alice.Smith']);
    assert.equal(result.code, 0, result.stderr);
    const json = JSON.parse(result.stdout) as { username: string; previous_username: string; changed: boolean };
    assert.deepEqual([json.username, json.previous_username, json.changed], ['Alice.Smith', 'alice.smith', true]);
  });

  test('the name the user has already changes nothing, and says so', async () => {
    const result = await runCli(dir, ['users', 'rename', 'alice.smith', 'Alice.Smith']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'Alice.Smith is already named so; nothing changed\n');
  });

  const refused: Array<[string, string[], number, RegExp]> = [
    ['a name another user has, in another case', ['users', 'rename', 'bruno', 'ALICE.SMITH'], 1, /^gatehouse: A user named ALICE\.SMITH already exists\.\n$/],
    ['a name with a space', ['users', 'rename', 'bruno', 'bruno two'], 1, /^gatehouse: Usernames are 1 to 64 letters, digits or \. _ @ -\n$/],
    ['a name in the form of a user id', ['users', 'rename', 'bruno', '0F8FAD5B-D9CB-469F-A165-70867728950E'], 1, /A username cannot have the form of a user id/],
    ['the name the audit log gives the config file', ['users', 'rename', 'bruno', 'config'], 1, /A username cannot be a name the audit log gives what is not a user \(anonymous, cli, config, service, system\)/],
    ['the name the audit log gives the CLI, in capitals', ['users', 'rename', 'bruno', 'CLI'], 1, /A username cannot be a name the audit log gives what is not a user/],
    ['a user who does not exist', ['users', 'rename', 'nobody', 'somebody'], 1, /^gatehouse: There is no user nobody\.\n$/],
    ['no new name', ['users', 'rename', 'bruno'], 2, /users rename USERNAME NEW_USERNAME/],
    ['a third argument', ['users', 'rename', 'bruno', 'b', 'c'], 2, /users rename USERNAME NEW_USERNAME/],
  ];
  for (const [what, args, code, message] of refused) {
    test(`refuses ${what} (exit ${code}) and renames nobody`, async () => {
      const result = await runCli(dir, args);
      assert.equal(result.code, code);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '');
      assert.deepEqual(await usernames(), ['Alice.Smith', 'bruno']);
    });
  }
});

describe('gatehouse users list flags names stored before the username rules', () => {
  let dir: string;
  const ID_FORM = '0f8fad5b-d9cb-469f-a165-70867728950e';

  before(async () => {
    dir = makeCliDir('gatehouse-cli-old-names-');
    for (const name of ['carol', 'dave', 'erin']) assert.equal((await runCli(dir, ['users', 'add', name], `${name} password 123\n`)).code, 0);
    // Names no rule lets in today, stored as an older version could: straight into the database.
    const db = new Database(join(dir, 'data', 'auth-server.db'));
    try {
      const rename = db.prepare('UPDATE users SET username = ? WHERE username = ?');
      rename.run(ID_FORM, 'carol');
      rename.run('dave\u202eevil', 'dave');
    } finally {
      db.close();
    }
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const listed = async () => JSON.parse((await runCli(dir, ['--json', 'users', 'list'])).stdout) as Array<{ username: string; needs_renaming: boolean }>;
  const rowOf = (stdout: string, name: string) => stdout.split('\n').find((line) => line.startsWith(`${name} `));

  test('a NOTE column says rename beside each such name, and a note says how', async () => {
    const result = await runCli(dir, ['users', 'list']);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^USERNAME\s+STATUS\s+SCOPES\s+SOURCE\s+ID\s+NOTE$/);
    assert.match(rowOf(result.stdout, ID_FORM)!, /\srename$/);
    assert.match(rowOf(result.stdout, 'dave\\u202eevil')!, /\srename$/);
    assert.doesNotMatch(rowOf(result.stdout, 'erin')!, /rename/);
    assert.equal(lines.at(-1), "note: 2 names were stored before today's username rules (the form of a user id, a name the audit log gives what is not a user, or a character that steers a display); rename with: gatehouse users rename USERNAME NEW_USERNAME");
    assert.deepEqual((await listed()).filter((u) => u.needs_renaming).map((u) => u.username).sort(), [ID_FORM, 'dave\u202eevil']);
  });

  test('once renamed, nothing is flagged and the table has no NOTE column', async () => {
    // The id-form name is named by id: the text is both that name and, possibly, an id.
    const carol = (await listed()).find((u) => u.username === ID_FORM) as unknown as { id: string };
    assert.equal((await runCli(dir, ['users', 'rename', carol.id, 'carol'])).code, 0);
    const dave = (await listed()).find((u) => u.username === 'dave\u202eevil') as unknown as { id: string };
    assert.equal((await runCli(dir, ['users', 'rename', dave.id, 'dave'])).code, 0);
    const result = await runCli(dir, ['users', 'list']);
    assert.match(result.stdout.split('\n')[0]!, /^USERNAME\s+STATUS\s+SCOPES\s+SOURCE\s+ID$/);
    assert.doesNotMatch(result.stdout, /rename|note:/);
    assert.deepEqual((await listed()).map((u) => [u.username, u.needs_renaming]), [['carol', false], ['dave', false], ['erin', false]]);
  });
});
