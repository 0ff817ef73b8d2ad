/**
 * `gatehouse backup`'s copies, made one after another by a child process, so that this process
 * stays free to answer Ctrl-C and SIGTERM while they run: a database is copied inside SQLite
 * (`VACUUM INTO`, storage/vacuum-into.ts says why) and a key file read with a blocking call, and
 * no signal handler of the process doing either runs until it returns.
 *
 * - `stop` kills the child (SIGKILL), at once, whatever it is in: it only reads the sources (a
 *   SQLite reader that dies leaves the database as it was) and writes the staged files, which the
 *   caller removes. A child ended by SIGINT, SIGTERM or SIGHUP (a terminal's Ctrl-C reaches it
 *   too) was stopped the same way.
 * - Each staged file is made 0600 before it is written: SQLite would make a database 0644.
 * - Its body is kept as source, as hash-worker-pool.ts's, so it runs the same under tsx, the
 *   compiled build and tests, and starts as plain Node.
 * Not a worker thread: one inside a native call can neither be stopped nor let the process exit
 * before the call returns.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

export interface StagedCopy {
  from: string;
  /** Where it is written; must not exist. */
  staged: string;
  kind: 'database' | 'key file';
}

/** Signals that stop a copy: a terminal's Ctrl-C, `kill`, a closed terminal. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const satisfies readonly NodeJS.Signals[];
export type StopSignal = (typeof STOP_SIGNALS)[number];

const isStopSignal = (signal: string | null): signal is StopSignal => (STOP_SIGNALS as readonly (string | null)[]).includes(signal);

/** Copy `index` failed: `code` is the errno (ENOSPC) or SQLite's (SQLITE_FULL), `message` its own. */
export class CopyFailed extends Error {
  override name = 'CopyFailed';
  constructor(readonly index: number, readonly code: string | undefined, message: string) {
    super(message);
  }
}

/** Stopped by `signal` while it made copy `index`. */
export class CopyStopped extends Error {
  override name = 'CopyStopped';
  constructor(readonly index: number, readonly signal: StopSignal) {
    super(`stopped (${signal})`);
  }
}

const BETTER_SQLITE3 = createRequire(import.meta.url).resolve('better-sqlite3');

/** What the child's stderr keeps, for a child that died without saying why (better-sqlite3 missing). */
const STDERR_KEPT = 2000;

// One JSON line on stdout before each copy ({"copying":i}) and for a copy that failed
// ({"failed":i,…}), written synchronously so the parent knows the copy it is in when it stops it.
const CHILD_SOURCE = `// gatehouse backup: the copies (copy-in-child-process.ts)
const { closeSync, openSync, readFileSync, writeFileSync, writeSync } = require('node:fs');
const Database = require(process.argv[1]);
const copies = JSON.parse(process.argv[2]);
const say = (message) => writeSync(1, JSON.stringify(message) + '\\n');
for (const [i, { from, staged, kind }] of copies.entries()) {
  say({ copying: i });
  try {
    const fd = openSync(staged, 'wx', 0o600);
    if (kind === 'database') {
      closeSync(fd);
      // Read-only: a backup never creates, migrates or changes the database it copies.
      const source = new Database(from, { readonly: true, fileMustExist: true });
      try {
        source.prepare('VACUUM INTO ?').run(staged);
      } finally {
        source.close();
      }
    } else {
      try {
        writeFileSync(fd, readFileSync(from));
      } finally {
        closeSync(fd);
      }
    }
  } catch (err) {
    say({ failed: i, code: typeof err?.code === 'string' ? err.code : undefined, message: String(err?.message ?? err) });
    process.exit(1);
  }
}
`;

interface ChildMessage {
  copying?: number;
  failed?: number;
  code?: string;
  message?: string;
}

/** One of the child's lines; undefined for anything else on its stdout (a module NODE_OPTIONS loads may print). */
function parseLine(line: string): ChildMessage | undefined {
  try {
    return JSON.parse(line) as ChildMessage;
  } catch {
    return undefined;
  }
}

/**
 * Makes each copy in turn, in a child process; resolves once all are made. Rejects with
 * CopyFailed for the first that failed, CopyStopped when `stop` was aborted (its reason is the
 * signal's name) or the child was ended by one of STOP_SIGNALS, or an Error when the child could
 * not run.
 */
export function copyInChildProcess(copies: readonly StagedCopy[], stop: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD_SOURCE, BETTER_SQLITE3, JSON.stringify(copies)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let current = 0;
    let failure: CopyFailed | undefined;
    let lines = '';
    let stderr = '';
    const kill = () => child.kill('SIGKILL');
    stop.addEventListener('abort', kill, { once: true });
    if (stop.aborted) kill();
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      lines += chunk;
      for (let end = lines.indexOf('\n'); end !== -1; end = lines.indexOf('\n')) {
        const message = parseLine(lines.slice(0, end));
        lines = lines.slice(end + 1);
        if (message?.copying !== undefined) current = message.copying;
        if (message?.failed !== undefined) failure = new CopyFailed(message.failed, message.code, message.message ?? 'failed');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEPT);
    });
    child.on('error', (err) => {
      stop.removeEventListener('abort', kill);
      reject(err);
    });
    child.on('close', (code, signal) => {
      stop.removeEventListener('abort', kill);
      if (stop.aborted) reject(new CopyStopped(current, stop.reason as StopSignal));
      else if (isStopSignal(signal)) reject(new CopyStopped(current, signal));
      else if (code === 0) resolve();
      else if (failure) reject(failure);
      else reject(new CopyFailed(current, undefined, `the process copying it ended (${signal ?? `exit code ${code}`})${stderr.trim() ? `: ${stderr.trim().split('\n').at(-1)}` : ''}`));
    });
  });
}
