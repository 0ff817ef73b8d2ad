/**
 * A username never stands for another user's id. The CLI and the `?user=` filters name a user by id
 * or username and try the id first, so a user named like another user's id (`0f8f…-…`) would have
 * `gatehouse users disable <that name>` disable the other user. New names in the form of a user id
 * are refused (the CLI here, the config in test/config/config-file.test.ts); for such a name stored
 * before (a row written straight into the database), text that is one user's id and another's
 * username is refused as naming neither, and each user can still be named without doubt.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { makeCliDir, runCli } from './support/cli-runner.ts';

describe('usernames in the form of a user id', () => {
  let dir: string;
  const database = () => new Database(join(dir, 'data', 'auth-server.db'));
  const userRow = (where: string, value: string) => {
    const db = database();
    try {
      return db.prepare(`SELECT id, username, disabled FROM users WHERE ${where} = ?`).get(value) as { id: string; username: string; disabled: number } | undefined;
    } finally {
      db.close();
    }
  };

  before(() => {
    dir = makeCliDir('gatehouse-cli-id-names-');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const refused: Array<[string, string]> = [
    ['lower case', '0f8fad5b-d9cb-469f-a165-70867728950e'],
    ['upper case', '0F8FAD5B-D9CB-469F-A165-70867728950E'],
    ['mixed case', '0f8FAD5b-d9cb-469F-a165-70867728950E'],
  ];
  for (const [what, name] of refused) {
    test(`users add refuses a name in the form of a user id, ${what}, before asking for a password`, async () => {
      const result = await runCli(dir, ['users', 'add', name]);
      assert.equal(result.code, 1, result.stderr);
      // (The first command in the directory also notes that it created the database.)
      assert.match(result.stderr, /^gatehouse: A username cannot have the form of a user id \(8-4-4-4-12 hexadecimal digits\)\.\n$/m);
      assert.doesNotMatch(result.stderr, /Password/);
      assert.equal(userRow('lower(username)', name.toLowerCase()), undefined);
    });
  }

  const kept: Array<[string, string]> = [
    ['one hex digit short', '0f8fad5b-d9cb-469f-a165-70867728950'],
    ['a letter past f', '0f8fad5b-d9cb-469f-a165-70867728950g'],
    ['without its dashes', '0f8fad5bd9cb469fa16570867728950e'],
  ];
  for (const [what, name] of kept) {
    test(`users add takes a name that only resembles an id: ${what}`, async () => {
      const result = await runCli(dir, ['users', 'add', name], 'a long enough password\n');
      assert.equal(result.code, 0, result.stderr);
      assert.ok(userRow('username', name));
    });
  }

  describe('a name in the form of an id stored before the rule', () => {
    let victim: { id: string; username: string };
    let other: string;

    before(async () => {
      assert.equal((await runCli(dir, ['users', 'add', 'victim'], 'victim password 12\n')).code, 0);
      victim = userRow('username', 'victim')!;
      // As an older version could store it: named exactly like the victim's id.
      other = randomUUID();
      const db = database();
      try {
        db.prepare(`INSERT INTO users (id, username, password_hash, scopes, disabled, pending, email, source, created_at, updated_at)
          VALUES (?, ?, NULL, 'mcp:read', 0, 0, NULL, 'builtin', ?, ?)`).run(other, victim.id, Date.now(), Date.now());
      } finally {
        db.close();
      }
    });

    test('users disable with that text is refused, and disables neither user', async () => {
      const result = await runCli(dir, ['users', 'disable', victim.id]);
      assert.equal(result.code, 1, result.stdout);
      assert.equal(result.stderr, `gatehouse: ${victim.id} is both the id of the user victim and the username of another user (id ${other}): name victim by username, or the other user by id.\n`);
      assert.equal(userRow('id', victim.id)!.disabled, 0, 'the user whose id it is');
      assert.equal(userRow('id', other)!.disabled, 0, 'the user so named');
    });

    test('connections list --user with that text is refused', async () => {
      const result = await runCli(dir, ['connections', 'list', '--user', victim.id]);
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stderr, /is both the id of the user victim and the username of another user/);
    });

    test('users passwd of the victim by username changes the victim\'s password', async () => {
      const before = userRow('id', victim.id);
      const result = await runCli(dir, ['users', 'passwd', 'victim'], 'a new victim password\n');
      assert.equal(result.code, 0, result.stderr);
      const db = database();
      try {
        const hashes = db.prepare('SELECT id, password_hash FROM users WHERE id IN (?, ?)').all(victim.id, other) as Array<{ id: string; password_hash: string | null }>;
        assert.ok(hashes.find((h) => h.id === victim.id)?.password_hash, 'the victim has a password');
        assert.equal(hashes.find((h) => h.id === other)?.password_hash, null, 'the other user still has none');
      } finally {
        db.close();
      }
      assert.ok(before);
    });

    test('each user can still be named without doubt: the victim by username, the other by id', async () => {
      assert.equal((await runCli(dir, ['users', 'disable', other])).code, 0);
      assert.equal(userRow('id', other)!.disabled, 1);
      assert.equal(userRow('id', victim.id)!.disabled, 0);
      assert.equal((await runCli(dir, ['users', 'disable', 'victim'])).code, 0);
      assert.equal(userRow('id', victim.id)!.disabled, 1);
    });
  });
});
