/**
 * `gatehouse audit tail | head -1`: the reader closing the pipe early is not the command failing.
 * Node reports it as an EPIPE 'error' on stdout, which without a listener is thrown with its
 * stack (and `audit tail --follow` would otherwise go on writing to nobody). The process ends at
 * once with 0, as the output's reader asked for no more; the data the command changed is already
 * committed when it prints. Any other error on stdout is still thrown.
 */
import type { Writable } from 'node:stream';
import { EXIT } from './cli-errors.ts';

export function exitOnClosedPipe(stdout: Writable): void {
  stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(EXIT.ok);
  });
}
