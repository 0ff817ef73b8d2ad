/**
 * Stdout whose reader is alive but not reading (`npm start | less` left on its first page, a log
 * shipper that stalls): the pipe fills, and a write to it would wait for the reader. A log call must
 * never wait, what waits in memory is bounded, and the exit is never held: it writes once what the
 * pipe takes and counts the rest on stderr (apps/shared/stdout-destination.ts).
 *
 * The pipe is a real one (a FIFO) whose read end the test holds without reading until it chooses.
 * A child logs through the logger under tsx, as `npm start` runs it, and under plain node from a
 * compiled copy, as the container runs it: there stdout is still in blocking mode when the first
 * line is written, since nothing has used process.stdout yet.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, test } from 'node:test';
import ts from 'typescript';
import { waitFor } from '../helpers/wait-for.ts';
import { formatBanner, type ReadyAnnouncement } from '../../apps/shared/announce-ready.ts';
import { REPO_ROOT } from './support/processes.ts';

/** Lines each child logs, of about 170 bytes: more than a pipe holds (64 KiB on Linux) twice over. */
const LINES = 1000;
const LOG_LINES = `for (let i = 0; i < ${LINES}; i += 1) logger.info({ i, pad: 'x'.repeat(100) }, 'line');`;
const LOST_AT_EXIT = /^gatehouse app: (\d+) log lines? (?:was|were) lost at exit: stdout's reader is not reading$/m;
/** Logs until the pipe is full: the last line is the one queued. */
const FILL_THE_PIPE = "let i = 0;\nwhile (out.queuedBytes === 0) logger.info({ i: i++, pad: 'x'.repeat(100) }, 'line');";
/** A child's exit, with room for a loaded machine; a held exit never comes. */
const EXIT_WITHIN_MS = 20_000;

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-full-stdout-'));
const children: ChildProcess[] = [];
after(() => {
  // A child a failed test left blocked on its full pipe.
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** apps/shared's own files compiled to JavaScript beside the repository's node_modules, for plain node. */
function compileShared(): string {
  const out = join(dir, 'compiled', 'apps', 'shared');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(dir, 'compiled', 'package.json'), '{ "type": "module" }\n');
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'compiled', 'node_modules'));
  const compilerOptions = { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, rewriteRelativeImportExtensions: true };
  for (const file of readdirSync(join(REPO_ROOT, 'apps', 'shared')).filter((name) => name.endsWith('.ts'))) {
    const source = readFileSync(join(REPO_ROOT, 'apps', 'shared', file), 'utf8');
    writeFileSync(join(out, file.replace(/\.ts$/, '.js')), ts.transpileModule(source, { compilerOptions }).outputText);
  }
  return out;
}

const TSX = { name: 'under tsx', nodeArgs: ['--import', 'tsx'], shared: () => join(REPO_ROOT, 'apps', 'shared'), extension: '.ts' };
const RUNTIMES = [TSX, { name: 'compiled, under plain node', nodeArgs: [], shared: compileShared, extension: '.js' }];
type Runtime = typeof TSX;

/**
 * A pipe nobody reads yet: its write end is for a child's stdout; `read` starts reading the other
 * end and resolves with all of it once every writer has closed; `received` is what came so far.
 */
function unreadPipe(name: string) {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  // Non-blocking, so opening the read end does not wait for a writer.
  const readEnd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeEnd = openSync(path, constants.O_WRONLY);
  const chunks: Buffer[] = [];
  let bytesRead = 0;
  return {
    writeEnd,
    bytesRead: () => bytesRead,
    received: () => Buffer.concat(chunks).toString('utf8'),
    read(): Promise<string> {
      const socket = new Socket({ fd: readEnd, readable: true, writable: false });
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        bytesRead += chunk.length;
      });
      return new Promise((resolve, reject) => {
        socket.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        socket.once('error', reject);
      });
    },
  };
}

interface Child {
  process: ChildProcess;
  stderr: () => string;
  exited: () => Promise<number | null>;
}

/**
 * Runs `body` in a child whose stdout is `stdout` and stdin a pipe from the test, with `load(name)`
 * importing apps/shared/<name> as `runtime` runs it; with an IPC channel unless `ipc` is false
 * (announceReady sends its banner there when there is one, as to `npm start`'s launcher).
 */
function runChild(runtime: Runtime, shared: string, body: string, stdout: number, { ipc = true } = {}): Child {
  const script = [
    `const load = (name) => import(${JSON.stringify(pathToFileURL(shared).href)} + '/' + name + '${runtime.extension}');`,
    "const { readSync, writeSync } = await import('node:fs');",
    body,
  ].join('\n');
  const child = spawn(process.execPath, [...runtime.nodeArgs, '--input-type=module', '-e', script], { cwd: REPO_ROOT, stdio: ['pipe', stdout, 'pipe', ...(ipc ? ['ipc' as const] : [])] });
  children.push(child);
  closeSync(stdout); // the child's copy is the only writer left: its exit ends the pipe
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  return {
    process: child,
    stderr: () => stderr,
    async exited() {
      await waitFor(`the child's exit:\n${stderr}`, () => child.exitCode !== null || child.signalCode !== null, EXIT_WITHIN_MS);
      return child.exitCode;
    },
  };
}

/** The complete lines of `text`, parsed; the last, cut short by a write, has no newline and is not one. */
function completeLines(text: string): Array<Record<string, unknown>> {
  return text.split('\n').slice(0, -1).map((line) => JSON.parse(line) as Record<string, unknown>);
}

function lostAtExit(stderr: string): number {
  return Number(LOST_AT_EXIT.exec(stderr)?.[1] ?? 0);
}

const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('stdout whose reader is alive but not reading', () => {
  for (const runtime of RUNTIMES) {
    let shared: string | undefined;
    const sharedFiles = () => (shared ??= runtime.shared());

    test(`${runtime.name}: the exit is not held; what the pipe did not take is counted on stderr`, async () => {
      const pipe = unreadPipe(`exit-${runtime.extension.slice(1)}`);
      const child = runChild(runtime, sharedFiles(), [
        "const { createLogger } = await load('logger');",
        "const logger = createLogger('app', 'info');",
        LOG_LINES,
        'process.exit(0);',
      ].join('\n'), pipe.writeEnd);

      assert.equal(await child.exited(), 0, child.stderr());
      const lost = lostAtExit(child.stderr());
      assert.ok(lost > 0, `stderr counts the lines lost at exit:\n${child.stderr()}`);
      const lines = completeLines(await pipe.read());
      assert.deepEqual(lines.map((line) => line.i), upTo(lines.length), 'the lines written are the first ones, in order, each whole');
      assert.equal(lines.length + lost, LINES);
    });

    test(`${runtime.name}: a log call does not wait for the reader, and the exit writes once what the pipe takes by then`, async () => {
      const pipe = unreadPipe(`drained-${runtime.extension.slice(1)}`);
      // Blocked on stdin, the child runs no timer: only its exit can write the queue.
      const child = runChild(runtime, sharedFiles(), [
        "const { createLogger } = await load('logger');",
        "const { stdoutDestination } = await load('stdout-destination');",
        "const out = stdoutDestination('app');",
        'let logged = 0;',
        "const logger = createLogger('app', 'info', { write(line) { logged += Buffer.byteLength(line); out.write(line); } });",
        LOG_LINES,
        "writeSync(2, `written ${logged - out.queuedBytes}\\n`);",
        'readSync(0, Buffer.alloc(1));',
        'process.exit(0);',
      ].join('\n'), pipe.writeEnd);

      const written = Number(await waitFor('the child to say what its log calls wrote', () => /^written (\d+)$/m.exec(child.stderr())?.[1], 30_000));
      const text = pipe.read();
      await waitFor(`the ${written} bytes the pipe holds`, () => pipe.bytesRead() === written);
      child.process.stdin!.end('x');

      assert.equal(await child.exited(), 0, child.stderr());
      const lines = completeLines(await text);
      assert.deepEqual(lines.map((line) => line.i), upTo(lines.length), 'the lines written are the first ones, in order, each whole');
      assert.equal(lines.length + lostAtExit(child.stderr()), LINES);
      const beforeExit = completeLines((await text).slice(0, written)).length;
      assert.ok(lines.length > beforeExit, `the exit wrote lines: ${lines.length} in all, ${beforeExit} before it`);
    });
  }

  // A line the queue could never hold (a logged body of megabytes): dropped alone, with a note in
  // its place, whether the queue is empty or not; the lines after it are not lost with it.
  test('a line longer than maxQueuedBytes: a note at its level takes its place, and the next lines are kept', async () => {
    const maxQueuedBytes = 16 * 1024;
    const pipe = unreadPipe('too-long');
    const child = runChild(TSX, TSX.shared(), [
      "const { createLogger } = await load('logger');",
      "const { stdoutDestination } = await load('stdout-destination');",
      `const out = stdoutDestination('app', { maxQueuedBytes: ${maxQueuedBytes} });`,
      "const logger = createLogger('app', 'info', out);",
      "logger.error({ body: 'x'.repeat(20000) }, 'too long');",
      FILL_THE_PIPE,
      "logger.error({ body: 'x'.repeat(20000) }, 'too long');",
      "logger.info('after');",
      'process.send({ queuedBytes: out.queuedBytes, logged: i });',
      "process.once('message', () => process.disconnect());",
    ].join('\n'), pipe.writeEnd);

    const { queuedBytes, logged } = await new Promise<{ queuedBytes: number; logged: number }>((resolve, reject) => {
      child.process.once('message', resolve);
      child.process.once('exit', (code) => reject(new Error(`the child exited (${code}):\n${child.stderr()}`)));
    });
    assert.ok(queuedBytes > 0 && queuedBytes < maxQueuedBytes, `the second long line came while ${queuedBytes} bytes waited`);
    const text = pipe.read();
    // Or the note of a gap that took it (droppedLines 2), which is what this test catches.
    await waitFor('the line after the second long one', () => /"msg":"after"|"droppedLines":2/.test(pipe.received()));
    child.process.send('go');
    assert.equal(await child.exited(), 0, child.stderr());
    const lines = completeLines(await text);
    const notes = [lines[0], lines[logged + 1]].map((note) => ({ ...note, time: undefined }));
    const droppedBytes = lines[0]?.droppedBytes as number;
    const note = {
      level: 50,
      time: undefined,
      app: 'app',
      name: 'app',
      droppedLines: 1,
      droppedBytes,
      msg: `1 log line was dropped: ${droppedBytes} bytes, more than the ${maxQueuedBytes} a log line may have`,
    };
    assert.deepEqual(notes, [note, note], 'each long line\'s note, where the line was');
    assert.ok(droppedBytes > 20_000, `${droppedBytes} bytes`);
    assert.deepEqual(lines.slice(1, logged + 1).map((line) => line.i), upTo(logged));
    assert.deepEqual(lines.slice(logged + 2).map((line) => line.msg), ['after'], 'the line after the second long one, kept: no gap opened');
    assert.equal(child.stderr(), '');
  });

  // The start-up banner is written outside pino. Written to stdout beside the queue, it overtook the
  // lines queued for a full pipe as soon as the reader came back, into the middle of one. With lines
  // being dropped (a queue of 16 KiB), the note of that gap comes before it.
  const banners: Array<{ what: string; maxQueuedBytes?: number }> = [
    { what: 'the lines queued' },
    { what: 'the lines queued and the note of those dropped', maxQueuedBytes: 16 * 1024 },
  ];
  for (const [n, { what, maxQueuedBytes }] of banners.entries()) {
    test(`the start-up banner waits behind ${what} for a full pipe, and comes between two lines`, async () => {
      const pipe = unreadPipe(`banner-${n}`);
      const announcement: ReadyAnnouncement = { app: 'resource-server', listening: 'http://127.0.0.1:4001', publicUrl: 'http://localhost:4001', mcpUrl: 'http://localhost:4001/mcp' };
      const more = maxQueuedBytes ? 1000 : 100;
      const child = runChild(TSX, TSX.shared(), [
        "const { createLogger } = await load('logger');",
        "const { stdoutDestination } = await load('stdout-destination');",
        "const { announceReady } = await load('announce-ready');",
        `const out = stdoutDestination('app'${maxQueuedBytes ? `, { maxQueuedBytes: ${maxQueuedBytes} }` : ''});`,
        "const logger = createLogger('app', 'info', out);",
        FILL_THE_PIPE,
        // More than a pipe's atomic write (4 KiB) waits: the pipe may take part of a line.
        `for (let more = 0; more < ${more}; more += 1) logger.info({ i: i++, pad: 'x'.repeat(100) }, 'line');`,
        `announceReady(${JSON.stringify(announcement)}, out);`,
        'writeSync(2, `logged ${i}\\n`);',
        "process.stdin.once('data', () => { logger.info('after'); process.exit(0); });",
      ].join('\n'), pipe.writeEnd, { ipc: false });

      const logged = Number(await waitFor('the child to log its lines and the banner', () => /^logged (\d+)$/m.exec(child.stderr())?.[1], 30_000));
      const banner = formatBanner([announcement]);
      const text = pipe.read();
      await waitFor('the banner', () => pipe.received().includes(banner));
      child.process.stdin!.end('x');
      assert.equal(await child.exited(), 0, child.stderr());
      const all = await text;
      const at = all.indexOf(banner);
      assert.notEqual(at, -1, `the banner, whole:\n${all.slice(-2000)}`);
      const before = completeLines(all.slice(0, at));
      const kept = before.filter((line) => line.msg === 'line');
      assert.deepEqual(kept.map((line) => line.i), upTo(maxQueuedBytes ? kept.length : logged), 'every line logged (and kept) before the banner comes before it');
      assert.ok(all.slice(0, at).endsWith('\n'), 'the banner comes between two lines, not inside one');
      const notes = before.slice(kept.length).map((line) => line.droppedLines);
      assert.deepEqual(notes, maxQueuedBytes ? [logged - kept.length] : [], 'the note of the lines dropped before it, last');
      assert.deepEqual(completeLines(all.slice(at + banner.length)).map((line) => line.msg), ['after']);
      assert.equal(child.stderr(), `logged ${logged}\n`);
    });
  }

  test('one line the pipe did not take at exit: stderr says "1 log line was lost", in the singular', async () => {
    const pipe = unreadPipe('one-lost');
    const child = runChild(TSX, TSX.shared(), [
      "const { createLogger } = await load('logger');",
      "const { stdoutDestination } = await load('stdout-destination');",
      "const out = stdoutDestination('app');",
      "const logger = createLogger('app', 'info', out);",
      FILL_THE_PIPE,
      'process.exit(0);',
    ].join('\n'), pipe.writeEnd);

    assert.equal(await child.exited(), 0, child.stderr());
    assert.equal(child.stderr(), "gatehouse app: 1 log line was lost at exit: stdout's reader is not reading\n");
    const lines = completeLines(await pipe.read());
    assert.deepEqual(lines.map((line) => line.i), upTo(lines.length), 'every line but the last, in order');
  });

  // The note is written whatever LOG_LEVEL: it is as severe as the worst line it stands for, at
  // least warn, so a collector keeping what LOG_LEVEL lets through (error and up) keeps it too.
  const gaps: Array<{ what: string; logLevel: string; worst?: string; note: number }> = [
    { what: 'info lines: a warn line', logLevel: 'info', note: 40 },
    { what: 'info lines and an error: an error line', logLevel: 'info', worst: 'error', note: 50 },
    { what: 'LOG_LEVEL=error, error lines: an error line', logLevel: 'error', note: 50 },
  ];
  for (const { what, logLevel, worst, note: level } of gaps) {
    test(`at most maxQueuedBytes wait: later lines are dropped, and once the reader is back one line says how many; ${what}`, async () => {
      const maxQueuedBytes = 16 * 1024;
      const pipe = unreadPipe(`bounded-${logLevel}-${worst ?? ''}`);
      const child = runChild(TSX, TSX.shared(), [
        "const { createLogger } = await load('logger');",
        "const { stdoutDestination } = await load('stdout-destination');",
        `const out = stdoutDestination('app', { maxQueuedBytes: ${maxQueuedBytes} });`,
        `const logger = createLogger('app', '${logLevel}', out);`,
        LOG_LINES.replace('logger.info(', `logger.${logLevel}(`),
        worst ? `logger.${worst}({ i: -1 }, 'worst');` : '',
        'process.send({ queuedBytes: out.queuedBytes });',
        `process.once('message', () => { logger.${logLevel}('after'); process.disconnect(); });`,
      ].join('\n'), pipe.writeEnd);

      const { queuedBytes } = await new Promise<{ queuedBytes: number }>((resolve, reject) => {
        child.process.once('message', resolve);
        child.process.once('exit', (code) => reject(new Error(`the child exited (${code}):\n${child.stderr()}`)));
      });
      assert.ok(queuedBytes > 0 && queuedBytes <= maxQueuedBytes, `queued ${queuedBytes} bytes`);

      const text = pipe.read();
      await waitFor('the dropped-lines note', () => pipe.received().includes('"droppedLines"'));
      child.process.send('go');
      assert.equal(await child.exited(), 0, child.stderr());
      const lines = completeLines(await text);
      const logged = lines.filter((line) => line.msg === 'line');
      assert.deepEqual(logged.map((line) => line.i), upTo(logged.length), 'the lines before the gap, in order');
      const beforeTheGap = Buffer.byteLength((await text).split('\n').slice(0, logged.length).join('\n'));
      assert.ok(beforeTheGap <= 64 * 1024 + maxQueuedBytes, `${beforeTheGap} bytes written before the gap: no more than a full pipe (64 KiB) and the queue`);
      const [note, last] = lines.slice(logged.length);
      const dropped = LINES - logged.length + (worst ? 1 : 0);
      assert.deepEqual({ ...note, time: undefined }, {
        level,
        time: undefined,
        app: 'app',
        name: 'app',
        droppedLines: dropped,
        msg: `${dropped} log lines were dropped: stdout's reader was not keeping up`,
      });
      assert.equal(last?.msg, 'after');
      assert.equal(lines.length, logged.length + 2);
      assert.equal(child.stderr(), '');
    });
  }
});
