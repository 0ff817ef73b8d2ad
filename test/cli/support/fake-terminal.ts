/**
 * A terminal for the CLI's password prompts, in-process, that makes the prompt/echo race happen
 * on every run: the person at it types each answer the instant a prompt reaches the screen (in
 * the very write that shows it), and whatever is typed while raw mode is off is echoed, as a real
 * terminal's line discipline does with ECHO set (termios(3)). So a prompt written before
 * `setRawMode(true)` shows the password on the screen, always, not only when the scheduler says so.
 */
import { PassThrough, Writable } from 'node:stream';

/** The end of a prompt: the CLI asks `Password for bob: `, `Repeat it: `. */
const PROMPT = /: $/;

export class FakeTerminal {
  /** Everything shown: prompts, the command's output and any echoed keystroke. */
  screen = '';
  /** Raw mode (no echo, no line editing); a real terminal starts cooked. */
  raw = false;
  /** The prompts that appeared while the terminal still echoed. */
  readonly promptsWhileEchoing: string[] = [];
  readonly stdin: PassThrough & { isTTY: true; setRawMode(mode: boolean): void };
  readonly stdout: Writable;
  readonly stderr: Writable;

  constructor(answers: string[]) {
    const pending = [...answers];
    this.stdin = Object.assign(new PassThrough(), {
      isTTY: true as const,
      setRawMode: (mode: boolean) => {
        this.raw = mode;
      },
    });
    const show = (chunk: Buffer | string, prompts: boolean) => {
      const text = String(chunk);
      this.screen += text;
      if (!prompts || !PROMPT.test(text) || pending.length === 0) return;
      if (!this.raw) this.promptsWhileEchoing.push(text);
      this.#type(`${pending.shift()}\r`);
    };
    const screen = (prompts: boolean) => new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        show(chunk, prompts);
        callback();
      },
    });
    this.stdout = screen(false);
    // The CLI prompts on stderr, so that stdout stays the command's output.
    this.stderr = screen(true);
  }

  #type(keys: string): void {
    if (!this.raw) this.screen += keys.replace(/\r/g, '\r\n');
    this.stdin.write(keys);
  }
}
