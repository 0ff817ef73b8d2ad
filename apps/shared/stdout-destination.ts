/**
 * Where the apps' log lines go: stdout, written here rather than by pino's default destination
 * (sonic-boom), because of what sonic-boom 4 does when stdout's reader is gone (`npm start 2>&1 |
 * tee log`, tee ended by the same Ctrl-C): at exit pino calls its flushSync, which retries a failed
 * write every 100 ms for ever, whatever the error; pino turns the stream into a no-op on EPIPE, but
 * only once the failed write's callback has run, and a shutdown that logs "shutting down" and
 * "stopped" within a few event-loop turns exits before that. The process then sleeps in that loop
 * for good: no timer runs, SIGTERM does nothing, the port stays held until SIGKILL
 * (test/ops/closed-stdout.test.ts). Here:
 * - a log call writes its line at once and never waits for the reader: a pipe or socket is put in
 *   non-blocking mode first, so a write takes what the pipe has room for (as Node's own
 *   process.stdout writes a pipe); a file or a terminal is written as console.log writes it;
 * - a full pipe (EAGAIN: its reader is slow, not gone) keeps the rest queued, tried again every
 *   100 ms. At most `maxQueuedBytes` wait: the lines logged beyond that are dropped until the queue
 *   has drained, and then one line says how many (`droppedLines`). It is written whatever
 *   LOG_LEVEL (this writes it, not pino), at the level of the most severe line it stands for and
 *   at least warn: under LOG_LEVEL=error every line dropped was an error, so is the note, and a
 *   collector keeping only what LOG_LEVEL lets through keeps it too;
 * - a line longer than `maxQueuedBytes` is dropped alone, and a note in its place says so
 *   (`droppedLines: 1`, `droppedBytes`), at its level and at least warn. Not written through when
 *   the queue is empty: a pipe takes 64 KiB of it, and the rest would wait beyond the bound (and
 *   a line of megabytes is one a log shipper cuts or refuses anyway). Nor does it start a gap:
 *   the lines after it are queued as long as they fit;
 * - the first other failed write (EPIPE, ENOSPC) ends logging for the process's life, said once on
 *   stderr; a log never stops or crashes the app that writes it;
 * - at exit the queue is written once more, without waiting; stderr says how many lines a pipe
 *   still full then did not take. Nothing holds the exit;
 * - what a person reads on stdout (the start-up banner, announce-ready.ts) goes through `print`:
 *   into the same queue, behind the lines waiting there, never into the middle of one; written
 *   to stdout beside the queue, it overtook them as soon as a full pipe's reader came back.
 */
import { writeSync } from 'node:fs';
import { pino, type DestinationStream } from 'pino';

/** The least level of a note about lines lost. */
const WARN = pino.levels.values.warn!;

/** How long a full pipe is given before a write to it is tried again (sonic-boom's figure). */
const FULL_PIPE_RETRY_MS = 100;

export interface StdoutDestinationOptions {
  /**
   * How many bytes of log lines may wait for a full pipe's reader; lines beyond are dropped. Default
   * is 4 MiB: some 20,000 request lines, and little memory.
   */
  maxQueuedBytes?: number;
}

export interface StdoutDestination extends DestinationStream {
  /** The bytes of the lines logged and not yet written, waiting for a full pipe's reader. */
  readonly queuedBytes: number;
  /**
   * Writes `text` (for a person: the start-up banner) in its turn with the log lines. Never
   * dropped: it is a few lines, once, and past `maxQueuedBytes` too it waits. It closes a gap of
   * dropped lines, whose note comes before it. Lost only with the log (stdout cannot be written).
   */
  print(text: string): void;
}

/** Each destination's last write, at exit: one 'exit' listener for all (tests make many loggers). */
const writesAtExit = new Set<() => void>();

/** `app` names the lines this destination writes itself (the dropped-lines note) and its stderr notices. */
export function stdoutDestination(app: string, { maxQueuedBytes = 4 * 1024 * 1024 }: StdoutDestinationOptions = {}): StdoutDestination {
  useNonBlockingWrites();
  let rest = Buffer.alloc(0); // the head of the queue: what a write did not take
  let queued = ''; // the lines logged after it, in order
  let queuedBytes = 0;
  let dropped = 0;
  let droppedLevel = 0; // the most severe of the lines dropped
  let retry: NodeJS.Timeout | undefined;
  let failed = false;

  const say = (text: string) => {
    try {
      writeSync(2, `gatehouse ${app}: ${text}\n`);
    } catch {
      // stderr cannot be written either (`2>&1` into the same pipe)
    }
  };
  const giveUp = (err: NodeJS.ErrnoException) => {
    failed = true;
    clearTimeout(retry);
    rest = Buffer.alloc(0);
    queued = '';
    queuedBytes = 0;
    dropped = 0;
    droppedLevel = 0;
    say(`the log cannot be written to stdout (${err.message}); no more log lines until the app restarts`);
  };
  /** Writes what stdout takes now: the queue, then the note of the lines dropped since. */
  const flush = () => {
    retry = undefined;
    try {
      while (queuedBytes > 0) {
        if (rest.length === 0) {
          rest = Buffer.from(queued);
          queued = '';
        }
        const written = writeSync(1, rest);
        rest = rest.subarray(written);
        queuedBytes -= written;
      }
      if (dropped > 0) {
        writeSync(1, droppedLinesNote(app, dropped, droppedLevel)); // shorter than PIPE_BUF: written whole or not at all
        dropped = 0;
        droppedLevel = 0;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') giveUp(err as NodeJS.ErrnoException);
      // Not holding the process: at its exit what is left is written once more.
      else retry = setTimeout(flush, FULL_PIPE_RETRY_MS).unref();
    }
  };

  if (writesAtExit.size === 0) process.once('exit', () => writesAtExit.forEach((writeRest) => writeRest()));
  writesAtExit.add(() => {
    if (failed) return;
    flush();
    const lost = linesIn(rest.toString()) + linesIn(queued) + dropped;
    if (lost > 0) say(`${logLines(lost)} lost at exit: stdout's reader is not reading`);
  });

  return {
    get queuedBytes() {
      return queuedBytes;
    },
    print(text: string) {
      if (failed) return;
      const note = dropped > 0 ? droppedLinesNote(app, dropped, droppedLevel) : '';
      dropped = 0;
      droppedLevel = 0;
      queued += note + text;
      queuedBytes += Buffer.byteLength(note + text);
      if (!retry) flush();
    },
    write(logged: string) {
      if (failed) return;
      const loggedBytes = Buffer.byteLength(logged);
      // Held whole, it could never fit the queue: its note takes its place, in its turn.
      const line = loggedBytes > maxQueuedBytes ? tooLongNote(app, logged, loggedBytes, maxQueuedBytes) : logged;
      const bytes = line === logged ? loggedBytes : Buffer.byteLength(line);
      // Once lines are dropped, all are until the queue has drained: one gap, one note.
      if (dropped > 0 || queuedBytes + bytes > maxQueuedBytes) {
        dropped += 1;
        droppedLevel = Math.max(droppedLevel, levelOf(line));
      } else {
        queued += line;
        queuedBytes += bytes;
      }
      if (!retry) flush();
    },
  };
}

/**
 * Node's own stdout and stderr streams put a pipe or socket in non-blocking mode when first used
 * (libuv's uv_pipe_open). Until then a write to a full pipe waits for its reader, for ever if it
 * never reads, and so does the exit; using them once is what does it. A terminal and a file stay
 * as they are.
 */
function useNonBlockingWrites(): void {
  void process.stdout;
  void process.stderr;
}

/** A line in the apps' log format saying that `count` lines were dropped, at `level` (the most severe of theirs), at least warn. */
function droppedLinesNote(app: string, count: number, level: number): string {
  const note = { level: Math.max(level, WARN), time: new Date().toISOString(), app, name: app, droppedLines: count };
  return `${JSON.stringify({ ...note, msg: `${logLines(count)} dropped: stdout's reader was not keeping up` })}\n`;
}

/** The note that takes the place of a line of `bytes`, more than the queue holds: at the line's level, at least warn. */
function tooLongNote(app: string, line: string, bytes: number, maxBytes: number): string {
  const note = { level: Math.max(levelOf(line), WARN), time: new Date().toISOString(), app, name: app, droppedLines: 1, droppedBytes: bytes };
  return `${JSON.stringify({ ...note, msg: `${logLines(1)} dropped: ${bytes} bytes, more than the ${maxBytes} a log line may have` })}\n`;
}

/** A line's pino level (`{"level":50,…`, as pino writes it, first); 0 when it has none. */
function levelOf(line: string): number {
  return Number(/^\{"level":(\d+)/.exec(line)?.[1] ?? 0);
}

/** `1 log line was`, `2 log lines were`. */
function logLines(count: number): string {
  return count === 1 ? '1 log line was' : `${count} log lines were`;
}

function linesIn(text: string): number {
  return text.split('\n').length - 1;
}
