/**
 * Reads a password for the CLI, never from the command line (it would stay in shell history and
 * be visible to every user in the process list):
 *
 * - from a terminal: a prompt on stderr that does not echo, asked twice when it sets a password;
 * - otherwise from stdin: its first line (so `printf '%s\n' "$PW" | gatehouse users passwd bob`
 *   and `gatehouse users add bob < file` work in scripts).
 */
import type { Readable, Writable } from 'node:stream';
import { escapeControlCharacters } from '../../../shared/escape-control-characters.ts';
import { CliError } from './cli-errors.ts';

export interface SecretSource {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  stderr: Writable;
}

async function readFirstLine(stdin: Readable): Promise<string> {
  let text = '';
  for await (const chunk of stdin) {
    text += String(chunk);
    if (text.includes('\n') || text.length > 4096) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

/** The keys the hidden prompt edits with, and what ends it. */
const ENTER = /[\r\n]/;
const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const ERASE = /[\u007f\b]/;
const CTRL_U = '\u0015';
const CTRL_W = '\u0017';
/**
 * Keys the prompt cannot honour without showing a cursor: the arrow, Home, End, Delete and
 * function keys (each sends ESC and a sequence), Alt with a key (ESC first), and the other control
 * characters (Ctrl-A, Ctrl-E, Ctrl-V, …). Tab is typed as itself, as a terminal's line does.
 */
const unusable = (char: string) => char < ' ' && char !== '\t';

function promptHidden(source: SecretSource, question: string): Promise<string> {
  const { stdin, stderr } = source;
  // Echo goes off before the prompt shows: input typed (or pasted) the moment it appears is hidden too.
  stdin.setRawMode?.(true);
  // The question may name a user whose name others chose (a federated sign-in's): shown, never obeyed.
  stderr.write(escapeControlCharacters(question));
  return new Promise((resolve, reject) => {
    let value = '';
    // A key the prompt cannot honour was pressed: the line is read to its end (so nothing typed
    // after it reaches the shell once the terminal echoes again), then refused, never guessed at.
    let spoiled = false;
    stdin.resume();
    const finish = (error?: Error) => {
      stdin.setRawMode?.(false);
      stdin.pause();
      stdin.off('data', onData);
      stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of String(chunk)) {
        if (ENTER.test(char)) {
          return finish(spoiled ? new CliError('the password was not taken: the arrow, Home, End, Delete and function keys and Ctrl with a letter do not work in this hidden prompt (only backspace, Ctrl-U and Ctrl-W do); type it again without them') : undefined);
        }
        if (char === CTRL_C) return finish(new CliError('cancelled'));
        // Ctrl-D ends input only on an empty line, as it does in a terminal's own line editing.
        if (char === CTRL_D) {
          if (value === '' && !spoiled) return finish(new CliError('cancelled'));
        } else if (ERASE.test(char)) value = [...value].slice(0, -1).join('');
        // Raw mode turns the terminal's line editing off, so its keys come here: Ctrl-U (KILL)
        // clears the line, Ctrl-W (WERASE) the blanks before the cursor and the word before them.
        else if (char === CTRL_U) value = '';
        else if (char === CTRL_W) value = value.replace(/\S*\s*$/u, '');
        else if (unusable(char)) spoiled = true;
        else value += char;
      }
    };
    stdin.on('data', onData);
  });
}

/** `confirm`: ask twice on a terminal (for a new password). */
export async function readSecret(source: SecretSource, question: string, options: { confirm?: boolean } = {}): Promise<string> {
  if (!source.stdin.isTTY) {
    const value = await readFirstLine(source.stdin);
    if (!value) throw new CliError('no password on stdin (the first line is read)');
    return value;
  }
  const value = await promptHidden(source, question);
  if (!value) throw new CliError('no password given');
  if (options.confirm && (await promptHidden(source, 'Repeat it: ')) !== value) throw new CliError('the two passwords differ');
  return value;
}
