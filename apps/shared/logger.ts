/**
 * Structured JSON logs (pino), one object per line, at the level from config.
 *
 * Secrets never reach a log line:
 * - request logging (observe-requests.ts) records the method and path, never the query string,
 *   headers or bodies, which is where tokens, codes, verifiers, passwords and cookies travel;
 * - as a second line of defence the fields below are redacted wherever a log call passes them,
 *   except on lines written through `withoutRedaction` (fixed fields, none of them secret).
 *
 * Human-facing output (the bootstrap admin password, the start-up banner) is written to the
 * terminal directly by the entry points, never through this logger.
 *
 * Lines go to stdout asynchronously, as pino's default destination (sonic-boom) writes them: a log
 * call never waits for the reader, and lines logged while a write is in flight go out together
 * after it. The destination is our own, because of what sonic-boom 4 does when stdout's reader
 * is gone (`npm start 2>&1 | tee log`, tee ended by the same Ctrl-C): at exit pino calls its
 * flushSync, which retries a failed write every 100 ms for ever, whatever the error; pino turns
 * the stream into a no-op on EPIPE, but only once the failed write's callback has run, and a
 * shutdown that logs "shutting down" and "stopped" within a few event-loop turns exits before
 * that. The process then sleeps in that loop for good: no timer runs, SIGTERM does nothing, the
 * port stays held until SIGKILL (test/ops/closed-stdout.test.ts). Here:
 * - the first failed write (EPIPE, ENOSPC: any error but EAGAIN) ends logging for the process's
 *   life, said once on stderr; a log never stops or crashes the app that writes it;
 * - EAGAIN (a full pipe: its reader is slow, not gone) is retried, without blocking;
 * - at exit, lines still queued are written once, synchronously; an error (EAGAIN too) loses
 *   them, said on stderr, and the exit goes on.
 */
import { write, writeSync } from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const SECRET_FIELDS = [
  'password', 'password_hash', 'client_secret', 'token', 'access_token', 'refresh_token', 'id_token',
  'code_verifier', 'authorization', 'cookie', 'set-cookie',
];

/**
 * Where an authorization code travels: the request's parameters. Not `*.code`, which is also every
 * logged error's `err.code` (ECONNREFUSED, SQLITE_FULL, an upstream's OAUTH_… code): often the
 * only thing a line says about what went wrong.
 */
const CODE_HOLDERS = ['params', 'query', 'body', 'form'];

const REDACT = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
  'code', ...CODE_HOLDERS.map((holder) => `*.${holder}.code`), ...CODE_HOLDERS.map((holder) => `${holder}.code`),
  'headers.authorization', 'headers.cookie', '*.headers.authorization', '*.headers.cookie', '*.headers["set-cookie"]',
];

/** How long a full pipe is given before a write to it is tried again (sonic-boom's figure). */
const FULL_PIPE_RETRY_MS = 100;

/** Each stdout destination's last write, at exit: one 'exit' listener for all (tests make many loggers). */
const writesAtExit = new Set<() => void>();

/** `destination` defaults to stdout; tests pass a stream to read the lines back. */
export function createLogger(name: string, level: string, destination: DestinationStream = stdoutDestination(name)): Logger {
  const options = {
    name,
    level,
    base: { app: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  return pino(options, destination);
}

/** Stdout, written as the header says: asynchronously, and given up at the first failed write. */
function stdoutDestination(name: string): DestinationStream {
  const fd = 1;
  let queued = '';
  let writing = false;
  let failed = false;

  const giveUp = (err: NodeJS.ErrnoException) => {
    failed = true;
    queued = '';
    try {
      writeSync(2, `gatehouse ${name}: the log cannot be written to stdout (${err.message}); no more log lines until the app restarts\n`);
    } catch {
      // stderr is gone as well (`2>&1` into the same pipe)
    }
  };
  const writeQueued = () => {
    writing = !failed && queued !== '';
    if (!writing) return;
    const chunk = Buffer.from(queued);
    queued = '';
    writeChunk(chunk);
  };
  const writeChunk = (chunk: Buffer) => {
    write(fd, chunk, (err, written) => {
      if (err?.code === 'EAGAIN') setTimeout(writeChunk, FULL_PIPE_RETRY_MS, chunk);
      else if (err) giveUp(err);
      else if (written < chunk.length) writeChunk(chunk.subarray(written));
      else writeQueued();
    });
  };
  if (writesAtExit.size === 0) process.once('exit', () => writesAtExit.forEach((writeRest) => writeRest()));
  writesAtExit.add(() => {
    let rest = Buffer.from(failed ? '' : queued);
    try {
      while (rest.length > 0) rest = rest.subarray(writeSync(fd, rest));
    } catch (err) {
      giveUp(err as NodeJS.ErrnoException); // lost: nothing may hold up the exit
    }
  });
  return {
    write(line: string) {
      if (failed) return;
      queued += line;
      if (!writing) writeQueued();
    },
  };
}

/**
 * The same logger, to the same destination, without the redaction pass: only for lines whose
 * fields are fixed and hold no secret (the request line: id, method, path, status, duration).
 * The wildcard paths above send every field of every line through the redactor; on the request
 * line that cost 23 µs of the 27 µs it takes to write it (measured: 100k lines to /dev/null),
 * about 2 % of a refresh grant's CPU, and redacted nothing, since no field is named like a secret.
 */
export function withoutRedaction(logger: Logger): Logger {
  return logger.child({}, { redact: [] });
}
