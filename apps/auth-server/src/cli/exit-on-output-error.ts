/**
 * What the binary does when its output cannot be written. Node reports it as an 'error' on stdout,
 * which without a listener is thrown with its stack.
 * - EPIPE: `gatehouse audit tail | head -1`, the reader closing the pipe early, is not the command
 *   failing. The process ends at once with 0, as the output's reader asked for no more (and
 *   `audit tail --follow` would otherwise go on writing to nobody).
 * - Any other error (ENOSPC: stdout on a full disk): one line on stderr naming it, exit 1. A
 *   command prints after it has committed, so the line says the change is made; after `clients
 *   add` the output held a secret shown only once, so `committed()` names what the command made and
 *   how to undo it.
 */
import type { Writable } from 'node:stream';
import { escapeControlCharacters } from '../../../shared/escape-control-characters.ts';
import { EXIT } from './cli-errors.ts';

export function exitOnOutputError(stdout: Writable, stderr: Writable, committed: () => string | undefined): void {
  stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.ok);
    const change = committed() ?? 'what the command changed, if anything, stays changed';
    stderr.write(`${escapeControlCharacters(`gatehouse: cannot write the output (${err.message}); ${change}`)}\n`);
    process.exit(EXIT.failure);
  });
}
