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
const CTRL_C = '\u0003';
const CTRL_D = '\u0004';

const CASES: Array<{ what: string; typed: string; meant: string }> = [
  { what: 'Ctrl-U clears what was typed', typed: `wrong password${CTRL_U}right password 1234`, meant: 'right password 1234' },
  { what: 'Ctrl-U twice clears as once does', typed: `first try 1234${CTRL_U}${CTRL_U}second try 1234`, meant: 'second try 1234' },
  { what: 'Ctrl-W deletes the last word', typed: `correct horse battery stapel${CTRL_W}staple`, meant: 'correct horse battery staple' },
  { what: 'Ctrl-W deletes the blanks before the cursor, then the word', typed: `correct horse typo  ${CTRL_W}battery`, meant: 'correct horse battery' },
  { what: 'Ctrl-W twice deletes two words', typed: `correct horse aaa bbb${CTRL_W}${CTRL_W}battery`, meant: 'correct horse battery' },
  { what: 'Ctrl-W on one word clears it', typed: `onewordtypo${CTRL_W}onewordpassword`, meant: 'onewordpassword' },
  { what: 'backspace still deletes one character', typed: `backspace pass 12345${BACKSPACE}`, meant: 'backspace pass 1234' },
  // A terminal's own line ignores Ctrl-D on a line that holds something (it ends input only on an empty one).
  { what: 'Ctrl-D on a line that holds something is ignored', typed: `half a pass${CTRL_D}word 1234`, meant: 'half a password 1234' },
  { what: 'a tab is typed as itself', typed: 'tab\tinside 12345', meant: 'tab\tinside 12345' },
];

/**
 * Keys that move a cursor or do something else in an editor's line: without echo the person cannot
 * see what they did, so the prompt refuses the line instead of hashing a password they cannot type
 * again (before, each key's escape sequence became part of the password).
 */
const UNUSABLE_KEYS: Array<{ key: string; sends: string }> = [
  { key: 'left arrow', sends: '\u001b[D' },
  { key: 'up arrow (application mode)', sends: '\u001bOA' },
  { key: 'Home', sends: '\u001b[H' },
  { key: 'Delete', sends: '\u001b[3~' },
  { key: 'F1', sends: '\u001bOP' },
  { key: 'Alt-b', sends: '\u001bb' },
  { key: 'Escape alone', sends: '\u001b' },
  { key: 'Ctrl-A', sends: '\u0001' },
  { key: 'Ctrl-V', sends: '\u0016' },
];

/** Ends the prompt without a password: Ctrl-C at any point, Ctrl-D on an empty line. */
const CANCELS: Array<{ what: string; typed: string }> = [
  { what: 'Ctrl-C on an empty line', typed: CTRL_C },
  { what: 'Ctrl-C after some of the password', typed: `half a pass${CTRL_C}word 1234` },
  { what: 'Ctrl-D on an empty line', typed: CTRL_D },
  { what: 'Ctrl-D on a line emptied by Ctrl-U', typed: `something${CTRL_U}${CTRL_D}` },
];

const printedHash = (screen: string) => /\$2[aby]\$\d\d\$\S{53}/.exec(screen)?.[0];

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
      const hash = printedHash(terminal.screen);
      assert.ok(hash, `a bcrypt hash is printed: ${JSON.stringify(terminal.screen)}`);
      assert.ok(await bcrypt.compare(meant, hash), `the hash is of ${JSON.stringify(meant)}`);
    });
  }

  for (const { key, sends } of UNUSABLE_KEYS) {
    test(`the ${key} key is refused, not hashed into the password`, async () => {
      const typed = `correct horse${sends} battery 1234`;
      const terminal = new FakeTerminal([typed, typed]);
      const code = await runGatehouse(['hash-password'], terminal, envFor(dir));
      assert.equal(code, 1, terminal.screen);
      assert.match(terminal.screen, /the password was not taken: the arrow, Home, End, Delete and function keys/);
      assert.equal(printedHash(terminal.screen), undefined, 'no hash is printed');
      assert.doesNotMatch(terminal.screen, /Repeat it/, 'refused at the first prompt');
    });
  }

  for (const { what, typed } of CANCELS) {
    test(`${what} cancels: nothing is hashed`, async () => {
      const terminal = new FakeTerminal([typed, typed]);
      const code = await runGatehouse(['hash-password'], terminal, envFor(dir));
      assert.equal(code, 1, terminal.screen);
      assert.match(terminal.screen, /cancelled/);
      assert.equal(printedHash(terminal.screen), undefined, 'no hash is printed');
    });
  }
});
