/**
 * SQLite WAL checkpoints taken on a worker thread, so the thread that commits never waits for one.
 *
 * Why: in WAL mode SQLite copies the log back into the database file (a checkpoint) from inside
 * the COMMIT that takes the log past `wal_autocheckpoint` pages, on the committing thread. With
 * `synchronous = NORMAL` that checkpoint also fsyncs the log and the database file, and an fsync
 * takes milliseconds: under refresh-token load (about 20 KB of log per grant) the auth server's
 * event loop stood still for 5-30 ms every few hundred grants, every request in flight waiting
 * with it (measured in the commit that brought this in: COMMIT 54 → 25 µs per grant, commits
 * over 1 ms 34 → 14 per 6,400 grants).
 *
 * - A worker thread opens its own connection to the same file and takes a PASSIVE checkpoint
 *   every `intervalMs`: it copies what the log holds without taking the write lock, so commits go
 *   on meanwhile (SQLite's own design for a checkpointer in another connection; durability is the
 *   same, as every checkpoint syncs the log before it copies and the file after).
 * - The committing connection keeps an automatic checkpoint as a backstop, at `backstopPages`
 *   instead of SQLite's 1,000: if the worker falls behind (a log that never restarts while writes
 *   never pause), cannot start, or dies, the log stays bounded as before, only larger (16 MB
 *   instead of 4). When the worker is gone the backstop goes back to SQLite's default, and
 *   `onUnexpectedExit` tells the owner (the auth server logs it).
 * - `stop()` asks the worker to close its connection and end, and resolves once it has: the owner
 *   closes its own connection afterwards, as the last one, which checkpoints and removes the log.
 *   The worker reads that message between checkpoints; one in progress is finished, never cut
 *   (terminating a thread inside a native call can abort the process: hash-worker-pool.ts).
 *   `terminate()` only after `stopGraceMs`.
 * - The worker is unref'd: it never keeps a process alive by itself.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** SQLite's own `wal_autocheckpoint` default, restored when the worker is gone. */
export const SQLITE_DEFAULT_AUTOCHECKPOINT = 1000;

export interface BackgroundCheckpointOptions {
  /** How often the worker checkpoints. Default 100 ms (about 2 MB of log at full refresh load). */
  intervalMs?: number;
  /**
   * The committing connection's own automatic checkpoint, in pages. Default 4,000 (16 MB of log,
   * the largest the file grows to): under sustained writes the log restarts only when a
   * checkpoint has caught up with every commit, which the worker's rarely does while commits keep
   * coming, so the committing connection then takes one itself, with little left to copy.
   */
  backstopPages?: number;
  /** How long `stop()` waits for the worker to end by itself. Default 5 s. */
  stopGraceMs?: number;
  /**
   * Called when the worker ends without being asked (it could not open the file, or died), with
   * its error if it reported one: the owner's log says checkpoints are back on the committing thread.
   */
  onUnexpectedExit?: (err: Error | undefined) => void;
}

// The worker's body, kept as source so it runs the same under tsx, the compiled build and tests.
// Only `exec`, never a prepared statement (which `pragma()` makes): a statement object still
// alive when a worker's environment is torn down trips an assertion on Node 24 in its destructor
// (better-sqlite3 12.x, numtide/llm-agents.nix#8217).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.betterSqlite3);
const db = new Database(workerData.file, { fileMustExist: true });
db.exec('PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL');
// A checkpoint that fails (the file busy in a way PASSIVE does not wait out) is tried again next time.
const checkpoint = () => { try { db.exec('PRAGMA wal_checkpoint(PASSIVE)'); } catch {} };
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
parentPort.postMessage('started');
`;

export class BackgroundCheckpoints {
  readonly #worker: Worker;
  readonly #stopGraceMs: number;
  #running = true;
  /** `stop()` was called: the worker's exit is expected. */
  #stopping = false;
  /** Settles once the worker thread has exited. */
  readonly #exited: Promise<void>;
  /** Settles once the worker has opened its connection (or failed to). */
  readonly started: Promise<boolean>;

  constructor(handle: Database.Database, options: BackgroundCheckpointOptions = {}) {
    this.#stopGraceMs = options.stopGraceMs ?? 5000;
    handle.pragma(`wal_autocheckpoint = ${options.backstopPages ?? 4000}`);
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        betterSqlite3: createRequire(import.meta.url).resolve('better-sqlite3'),
        file: handle.name,
        intervalMs: options.intervalMs ?? 100,
      },
    });
    this.#worker.unref();
    let started!: (ok: boolean) => void;
    this.started = new Promise((resolve) => (started = resolve));
    this.#worker.once('message', () => started(true));
    // A worker that cannot open the file reports an error, then exits.
    let failure: Error | undefined;
    this.#worker.on('error', (err) => {
      failure = err;
    });
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => {
      started(false);
      this.#running = false;
      // The committing connection checkpoints by itself again, as SQLite does by default.
      if (handle.open) handle.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT}`);
      if (!this.#stopping) options.onUnexpectedExit?.(failure);
      resolve();
    }));
  }

  /** Whether the worker is still there to checkpoint. */
  get running(): boolean {
    return this.#running;
  }

  /** Ends the worker once its checkpoint in progress (if any) is done; resolves once it has exited. */
  async stop(): Promise<void> {
    if (!this.#running) return this.#exited;
    this.#stopping = true;
    // Until it has ended: a process with nothing else left to do waits for it.
    this.#worker.ref();
    const overdue = setTimeout(() => void this.#worker.terminate(), this.#stopGraceMs);
    this.#worker.postMessage('stop');
    await this.#exited;
    clearTimeout(overdue);
  }

  /** For tests: the worker thread, to end it as a crash would. */
  get worker(): Worker {
    return this.#worker;
  }
}
