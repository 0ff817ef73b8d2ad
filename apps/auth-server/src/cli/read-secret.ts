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

function promptHidden(source: SecretSource, question: string): Promise<string> {
  const { stdin, stderr } = source;
  // Echo goes off before the prompt shows: input typed (or pasted) the moment it appears is hidden too.
  stdin.setRawMode?.(true);
  // The question may name a user whose name others chose (a federated sign-in's): shown, never obeyed.
  stderr.write(escapeControlCharacters(question));
  return new Promise((resolve, reject) => {
    let value = '';
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
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003' || char === '\u0004') return finish(new CliError('cancelled'));
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('');
        // Raw mode turns the terminal's line editing off, so its keys come here: Ctrl-U (KILL)
        // clears the line, Ctrl-W (WERASE) the blanks before the cursor and the word before them.
        else if (char === '\u0015') value = '';
        else if (char === '\u0017') value = value.replace(/\S*\s*$/u, '');
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
