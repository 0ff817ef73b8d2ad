/**
 * `gatehouse users rename USERNAME NEW_USERNAME`: the new name under the rules every new username
 * follows, refused with exit 1 and a message when it breaks them or is taken, 2 for a wrong command
 * line. The pages' Rename form and the store are test/admin/rename-user.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
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
