/**
 * The password prompt names the user (`Password for NAME: `, `New password for NAME: `): a name
 * with control characters is shown escaped there, as everywhere else the CLI prints, never
 * written raw to the terminal. `users passwd` shows the stored name, which a federated sign-in or
 * an older version may have stored; here it is written into the database directly. `users add`
 * checks the name from its command line first, so such a name is refused before any prompt.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { run as runGatehouse } from '../../apps/auth-server/src/cli/run.ts';
import { envFor, makeCliDir, runCli } from './support/cli-runner.ts';
import { FakeTerminal } from './support/fake-terminal.ts';
import { STEERING } from '../helpers/steering-characters.ts';

/** [what, the username, how the prompt shows it]. */
const HOSTILE_NAMES: Array<[string, string, string]> = [
  ['an erase-screen sequence (ESC [2J)', 'erase\u001b[2J\u001b[Hname', 'erase\\x1b[2J\\x1b[Hname'],
  ['an OSC 52 clipboard write', 'clip\u001b]52;c;Y3VybCBldmlsIHwgc2g=\u0007board', 'clip\\x1b]52;c;Y3VybCBldmlsIHwgc2g=\\x07board'],
  ['a carriage return that overwrites the prompt', 'over\rPassword for root', 'over\\x0dPassword for root'],
  ['a C1 control sequence introducer (U+009B)', 'csi\u009b2Jname', 'csi\\x9b2Jname'],
  ['a right-to-left override', 'bidi\u202enimda', 'bidi\\u202enimda'],
];

describe('the password prompt shows a hostile username escaped', () => {
  let dir: string;

  before(async () => {
    dir = makeCliDir('gatehouse-cli-hostile-prompt-');
    for (const [index, [, name]] of HOSTILE_NAMES.entries()) {
      assert.equal((await runCli(dir, ['users', 'add', `plain${index}`], 'plain password 1234\n')).code, 0);
      const stored = new Database(join(dir, 'data', 'auth-server.db'));
      stored.prepare('UPDATE users SET username = ? WHERE username = ?').run(name, `plain${index}`);
      stored.close();
    }
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [what, name, shown] of HOSTILE_NAMES) {
    test(`users passwd, ${what}: the prompt shows the name escaped`, async () => {
      const terminal = new FakeTerminal(['typed password 1234', 'typed password 1234']);
      await runGatehouse(['users', 'passwd', '--', name], terminal, envFor(dir));
      assert.ok(terminal.screen.includes(`New password for ${shown}: `), `the prompt names the user escaped: ${JSON.stringify(terminal.screen)}`);
      assert.doesNotMatch(terminal.screen, STEERING, `nothing raw reaches the terminal: ${JSON.stringify(terminal.screen)}`);
    });

    // No such name can be created, and it is refused before any prompt; the refusal names it escaped.
    test(`users add, ${what}: refused before the prompt, the name escaped`, async () => {
      const terminal = new FakeTerminal(['typed password 1234', 'typed password 1234']);
      const code = await runGatehouse(['users', 'add', '--', `${name}2`], terminal, envFor(dir));
      assert.equal(code, 1);
      assert.ok(!terminal.screen.includes('Password for'), `no prompt: ${JSON.stringify(terminal.screen)}`);
      assert.match(terminal.screen, /Usernames are 1 to 64 letters/);
      assert.doesNotMatch(terminal.screen, STEERING, `nothing raw reaches the terminal: ${JSON.stringify(terminal.screen)}`);
    });
  }
});
