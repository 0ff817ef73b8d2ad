/**
 * bcrypt on a pool of worker threads that run at the lowest OS priority.
 *
 * - One worker per core by default, so a burst of sign-ins uses every core. None of it runs on
 *   the event loop or on libuv's pool, where oidc-provider signs tokens (WebCrypto).
 * - Each worker lowers its own thread to nice 19 (Linux: the thread id comes from
 *   /proc/thread-self). The kernel then runs the server's main thread and the signer whenever
 *   they want a core and gives hashing every idle cycle, so sign-ins stop costing token latency
 *   (bench/refresh-under-sign-ins.ts prints refresh p99 and the main thread's wait for a CPU,
 *   with and without sign-ins). The price: on a machine kept busy by other work, sign-ins get
 *   only what is left. Where there is no /proc (macOS), workers keep the normal priority.
 * - One queue for the pool; a job goes to a worker with nothing to do (the least busy), never
 *   round-robin onto one still hashing while another waits idle.
 * - A worker that dies is replaced; the job it held is rejected (the caller answers with its
 *   ordinary error), queued jobs go to the others. A worker that dies before it has started
 *   (a broken install) rejects the queue and is started again by the next job, not in a loop.
 * - `close()` rejects what is queued or running and ends every worker, by asking it to end: a
 *   worker reads that message only between jobs, so it finishes the bcrypt call it is in (at most
 *   one hash) and ends by itself. `worker.terminate()` would stop the thread's JavaScript
 *   environment while native bcrypt may be inside a call, or loading; node-addon-api aborts the
 *   whole process when such a call then fails ("terminate called after throwing an instance of
 *   'Napi::Error'", node-addon-api #902, #975; better-sqlite3 #1507 on Node 24). A worker that has
 *   not ended after `closeGraceMs` is terminated all the same.
 * Worker threads rather than child processes: the kernel schedules a nice 19 thread exactly as a
 * nice 19 process, a thread costs a few MB instead of a Node process, and threads cannot outlive
 * the server, even after a kill -9.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

export type HashJob =
  | { op: 'hash'; password: string; cost: number }
  /**
   * `failureCompares`: how many compares a mismatch costs in all (default 1): the first, then
   * that many less one again, with the same password, hash and bcrypt (password-hasher.ts says why).
   */
  | { op: 'compare'; password: string; hash: string; failureCompares?: number };

export interface HashWorkerStats {
  /** The Node threadId (changes when a worker is replaced). */
  threadId: number;
  /** The thread's id in the OS (Linux), once the worker has started. */
  tid?: number;
  /** Jobs this worker has finished. */
  served: number;
  /**
   * The bcrypt work it has done: 2^cost for each hash and compare (what a hash at cost 12 costs is
   * 4096 of these, whichever bcrypt runs it). Tests read it to show two sign-ins cost the same.
   */
  work: number;
  busy: boolean;
}

/** The nice value of hashing threads: the lowest priority there is. */
const HASHING_NICE = 19;

// The worker's body, kept as source so it runs the same under tsx, the compiled build and tests.
// Native bcrypt hashes each job it reads exactly as bcryptjs does; the rest goes to bcryptjs
// (nativeHandles, below).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcryptjs = require(workerData.bcryptjsPath);
const native = workerData.nativePath ? require(workerData.nativePath) : undefined;
const NATIVE_HASH = /^\\$2[aby]\\$/;
const nativeHandles = (job) => native !== undefined && job.password.isWellFormed() && (job.op === 'hash' || NATIVE_HASH.test(job.hash));
// PHP's name for the version native bcrypt calls $2b$: the same algorithm, the same bytes.
const nativeName = (hash) => hash.replace(/^\\$2y\\$/, '$2b$');
let tid;
try {
  tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  require('node:os').setPriority(tid, workerData.nice);
} catch {
  // No /proc (not Linux) or no permission: hash at the normal priority.
}
parentPort.postMessage({ started: true, tid });
parentPort.on('message', (job) => {
  if (job.op === 'end') {
    parentPort.close();
    return;
  }
  try {
    if (job.op === 'hash') {
      parentPort.postMessage({ result: (nativeHandles(job) ? native : bcryptjs).hashSync(job.password, job.cost), runs: 1 });
      return;
    }
    const [bcrypt, hash] = nativeHandles(job) ? [native, nativeName(job.hash)] : [bcryptjs, job.hash];
    let runs = 1;
    const result = bcrypt.compareSync(job.password, hash);
    for (; !result && runs < (job.failureCompares ?? 1); runs += 1) bcrypt.compareSync(job.password, hash);
    parentPort.postMessage({ result, runs });
  } catch (err) {
    parentPort.postMessage({ error: err.message });
  }
});`;
const requireHere = createRequire(import.meta.url);

/** The cost a bcrypt hash states (`$2b$12$…` → 12); undefined when it is not one. */
export function bcryptCost(hash: string): number | undefined {
  const cost = /^\$2[aby]\$(\d\d)\$/.exec(hash)?.[1];
  return cost === undefined ? undefined : Number(cost);
}

/** The bcrypt work of `runs` runs of `job` (HashWorkerStats.work). */
function workOf(job: HashJob, runs: number): number {
  return runs * 2 ** (job.op === 'hash' ? job.cost : bcryptCost(job.hash) ?? 0);
}
const BCRYPTJS_PATH = requireHere.resolve('bcryptjs');

/** Which bcrypt the workers run: native where it loads, else bcryptjs (and why). */
export type BcryptEngine = { name: 'bcrypt'; path: string } | { name: 'bcryptjs'; unavailable?: string };

/**
 * The native `bcrypt` package (an optional dependency, with prebuilt binaries for Linux, macOS
 * and Windows on x64 and arm64): about 1.4 times as fast as bcryptjs at the same cost (217 against
 * 296 ms at cost 12 here), so the same cores serve that many more sign-ins. Loaded once here to
 * know whether it works on this machine; where it does not (no binary for the platform, a broken
 * install), bcryptjs does all the hashing, with the reason kept for the start-up warning.
 * - Both write and read the same `$2b$` hashes. A password that is not well-formed UTF-16 (a lone
 *   surrogate, which only JSON escapes can carry) is encoded differently by the two: those jobs
 *   stay with bcryptjs, so every hash bcryptjs wrote before keeps matching. Native bcrypt does not
 *   read the name `$2y$` (PHP's for `$2b$`, the same algorithm): it is given such a hash as `$2b$`.
 *   Left to bcryptjs, 1.4 times slower, a `$2y$` user's wrong password took measurably longer to
 *   refuse than an unknown username's (which is compared with a `$2b$` dummy).
 * - Its synchronous calls only, inside the workers: its asynchronous ones would run on libuv's
 *   pool, where tokens are signed.
 */
export function loadNativeBcrypt(name = 'bcrypt'): BcryptEngine {
  try {
    const path = requireHere.resolve(name);
    requireHere(path);
    return { name: 'bcrypt', path };
  } catch (err) {
    return { name: 'bcryptjs', unavailable: err instanceof Error ? err.message.split('\n')[0] : String(err) };
  }
}

interface Job {
  message: HashJob;
  resolve: (value: string | boolean) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  started: boolean;
  tid?: number;
  served: number;
  work: number;
  job?: Job;
}

export interface HashWorkerPoolOptions {
  /** The bcryptjs module the workers load. Tests give a missing one, for workers that cannot start. */
  bcryptjsPath?: string;
  /**
   * How long `close()` lets a worker finish the hash it is in before terminating it. Default 4 s:
   * twice a cost-15 hash (the highest `bcrypt_cost`) on a 2-core test machine, and short enough
   * that a stop cut off at `shutdown_timeout` (10 s) still ends within compose's 15 s.
   */
  closeGraceMs?: number;
  /** Default: native bcrypt where it loads (loadNativeBcrypt). */
  engine?: BcryptEngine;
}

export class HashWorkerPool {
  readonly size: number;
  readonly engine: BcryptEngine;
  readonly #bcryptjsPath: string;
  readonly #closeGraceMs: number;
  #slots: (Slot | undefined)[];
  #queue: Job[] = [];
  #closed = false;

  /** `size`: worker threads, at least 1. */
  constructor(size: number, { bcryptjsPath = BCRYPTJS_PATH, engine = loadNativeBcrypt(), closeGraceMs = 4_000 }: HashWorkerPoolOptions = {}) {
    if (!Number.isInteger(size) || size < 1) throw new TypeError('size must be a positive integer');
    this.size = size;
    this.engine = engine;
    this.#bcryptjsPath = bcryptjsPath;
    this.#closeGraceMs = closeGraceMs;
    this.#slots = Array.from({ length: size }, (_, index) => this.#start(index));
  }

  run(message: HashJob): Promise<string | boolean> {
    if (this.#closed) return Promise.reject(new Error('the password hasher is closed'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ message, resolve, reject });
      this.#dispatch();
    });
  }

  /** The live workers (one that could not start is left out until the next job starts it again). */
  stats(): HashWorkerStats[] {
    return this.#slots.flatMap((slot) => slot ? [{ threadId: slot.worker.threadId, tid: slot.tid, served: slot.served, work: slot.work, busy: Boolean(slot.job) }] : []);
  }

  /**
   * Tests: ends worker `index` as a crash would, to show it is replaced and its job rejected. Call
   * it only while the worker runs JavaScript (a bcryptjs job: a pool or hasher on `bcryptjs`): terminating a
   * worker inside native bcrypt can abort the whole process (see the top of this file).
   */
  crashWorker(index: number): Promise<number> {
    return this.#slots[index]!.worker.terminate();
  }

  /**
   * Rejects what is queued or running, then ends every worker between jobs (see the top of this
   * file). Resolves once all have ended, to their exit codes: 0 when a worker ended by itself, 1
   * when it had to be terminated.
   */
  async close(): Promise<number[]> {
    this.#closed = true;
    const closed = new Error('the password hasher is closed');
    for (const job of this.#queue.splice(0)) job.reject(closed);
    const slots = this.#slots.filter((slot) => slot !== undefined);
    this.#slots = [];
    for (const slot of slots) slot.job?.reject(closed);
    return Promise.all(slots.map((slot) => this.#end(slot.worker)));
  }

  #end(worker: Worker): Promise<number> {
    return new Promise((resolve) => {
      // Until it has ended: a process with nothing else left to do waits for it, instead of
      // tearing it down on exit as terminate() would.
      worker.ref();
      const overdue = setTimeout(() => void worker.terminate(), this.#closeGraceMs);
      worker.once('exit', (code) => {
        clearTimeout(overdue);
        resolve(code);
      });
      // Read after the job it is running, and after its start (loading bcrypt) if it has not finished starting.
      worker.postMessage({ op: 'end' });
    });
  }

  #start(index: number): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: {
      bcryptjsPath: this.#bcryptjsPath,
      nativePath: this.engine.name === 'bcrypt' ? this.engine.path : undefined,
      nice: HASHING_NICE,
    } });
    // An idle pool does not keep the process alive; a worker holding a job does (see #dispatch).
    worker.unref();
    const slot: Slot = { worker, started: false, served: 0, work: 0 };
    let crash: Error | undefined;
    worker.on('message', (msg: { started?: true; tid?: number; result?: string | boolean; runs?: number; error?: string }) => {
      if (msg.started) {
        slot.started = true;
        slot.tid = msg.tid;
        return;
      }
      const job = slot.job;
      slot.job = undefined;
      slot.served += 1;
      if (job) slot.work += workOf(job.message, msg.runs ?? 0);
      worker.unref();
      if (msg.error !== undefined) job?.reject(new Error(msg.error));
      else job?.resolve(msg.result!);
      this.#dispatch();
    });
    worker.on('error', (err) => {
      crash = err;
    });
    worker.on('exit', (code) => {
      if (this.#slots[index] !== slot) return; // closed, or already replaced
      const err = crash ?? new Error(`a password hashing worker exited with code ${code}`);
      slot.job?.reject(err);
      if (slot.started) {
        this.#slots[index] = this.#start(index);
      } else {
        this.#slots[index] = undefined;
        for (const job of this.#queue.splice(0)) job.reject(err);
      }
      this.#dispatch();
    });
    return slot;
  }

  #dispatch(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      let index = this.#slots.findIndex((slot) => slot && !slot.job);
      if (index < 0) {
        // Every live worker is busy; a slot emptied by a failed start gets a new worker.
        index = this.#slots.indexOf(undefined);
        if (index < 0) return;
        this.#slots[index] = this.#start(index);
      }
      const slot = this.#slots[index]!;
      const job = this.#queue.shift()!;
      slot.job = job;
      slot.worker.ref();
      slot.worker.postMessage(job.message);
    }
  }
}
