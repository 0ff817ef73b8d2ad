/**
 * The one username rule, which the configuration, the admin pages and the CLI all apply
 * (apps/shared/username.ts); the doors themselves are tested with their own refusals
 * (test/admin/users-admin.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ANONYMOUS, CONFIG_ACTOR, SERVICE, SYSTEM } from '../../apps/auth-server/src/audit/audit-log.ts';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { isActorName, USERNAME, USERNAME_MAX_LENGTH } from '../../apps/shared/username.ts';

describe('the username rule', () => {
  const cases: Array<[string, string, boolean]> = [
    ['a plain name', 'alice', true],
    ['an email address', 'alice.smith@example.com', true],
    ['dashes and underscores', 'build-bot_2', true],
    ['the longest name', 'x'.repeat(USERNAME_MAX_LENGTH), true],
    ['one character too long', 'x'.repeat(USERNAME_MAX_LENGTH + 1), false],
    ['an empty name', '', false],
    ['a name with a space', 'two words', false],
    ['a plus-addressed email', 'alice+mcp@example.com', false],
    ['a non-ASCII letter', 'zoë', false],
    ['a trailing newline', 'alice\n', false],
  ];
  for (const [what, name, accepted] of cases) {
    test(`${accepted ? 'accepts' : 'refuses'} ${what}`, () => {
      assert.equal(USERNAME.test(name), accepted);
    });
  }

  test('refuses, in any case, every name the audit log gives what is not a user', () => {
    for (const actor of [ANONYMOUS, CONFIG_ACTOR, SERVICE, SYSTEM, CLI.actor]) {
      assert.equal(isActorName(actor.name), true, actor.name);
      assert.equal(isActorName(actor.name.toUpperCase()), true, actor.name.toUpperCase());
    }
    assert.equal(isActorName('configurator'), false);
    assert.equal(isActorName('admin'), false);
  });
});
