/**
 * The hidden password prompt edits the line as a terminal does: raw mode (no echo) also turns
 * off the terminal's own line editing, so the prompt handles its keys. What is typed, edits
 * included, must give the password the person sees in their head, not one with control
 * characters in it that they can never type again. Checked on what the CLI prints:
 * `hash-password`'s bcrypt hash, compared with the password meant.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { run as runGatehouse } from '../../apps/auth-server/src/cli/run.ts';
import { envFor, makeCliDir } from './support/cli-runner.ts';
import { FakeTerminal } from './support/fake-terminal.ts';

const CTRL_U = '\u0015';
const CTRL_W = '\u0017';
const BACKSPACE = '\u007f';

const CASES: Array<{ what: string; typed: string; meant: string }> = [
  { what: 'Ctrl-U clears what was typed', typed: `wrong password${CTRL_U}right password 1234`, meant: 'right password 1234' },
  { what: 'Ctrl-U twice clears as once does', typed: `first try 1234${CTRL_U}${CTRL_U}second try 1234`, meant: 'second try 1234' },
  { what: 'Ctrl-W deletes the last word', typed: `correct horse battery stapel${CTRL_W}staple`, meant: 'correct horse battery staple' },
  { what: 'Ctrl-W deletes the blanks before the cursor, then the word', typed: `correct horse typo  ${CTRL_W}battery`, meant: 'correct horse battery' },
  { what: 'Ctrl-W twice deletes two words', typed: `correct horse aaa bbb${CTRL_W}${CTRL_W}battery`, meant: 'correct horse battery' },
  { what: 'Ctrl-W on one word clears it', typed: `onewordtypo${CTRL_W}onewordpassword`, meant: 'onewordpassword' },
  { what: 'backspace still deletes one character', typed: `backspace pass 12345${BACKSPACE}`, meant: 'backspace pass 1234' },
];

describe('the hidden password prompt\'s line editing', () => {
  let dir: string;

  before(() => {
    dir = makeCliDir('gatehouse-cli-prompt-');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  for (const { what, typed, meant } of CASES) {
    test(`${what}: hash-password hashes ${JSON.stringify(meant)}`, async () => {
      // Typed the same way twice, as a person would; the confirmation compares the edited lines.
      const terminal = new FakeTerminal([typed, typed]);
      const code = await runGatehouse(['hash-password'], terminal, envFor(dir));
      assert.equal(code, 0, terminal.screen);
      const hash = /\$2[aby]\$\d\d\$\S{53}/.exec(terminal.screen)?.[0];
      assert.ok(hash, `a bcrypt hash is printed: ${JSON.stringify(terminal.screen)}`);
      assert.ok(await bcrypt.compare(meant, hash), `the hash is of ${JSON.stringify(meant)}`);
    });
  }
});
