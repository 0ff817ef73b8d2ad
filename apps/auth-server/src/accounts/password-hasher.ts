/**
 * bcrypt on worker threads.
 *
 * - bcrypt reads at most 72 bytes of a password; longer ones are refused (PasswordTooLongError)
 *   where a password is set, never silently truncated. At sign-in they simply do not match.
 * - `verifyOrDummy` compares against a fixed dummy hash of the same cost when there is no user,
 *   so an unknown username costs the same time as a wrong password (no user enumeration).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

export const MAX_PASSWORD_BYTES = 72;

export class PasswordTooLongError extends Error {
  override name = 'PasswordTooLongError';
  constructor() {
    super(`passwords are limited to ${MAX_PASSWORD_BYTES} bytes`);
  }
}

interface Pending {
  resolve: (value: string | boolean) => void;
  reject: (err: Error) => void;
}

// The worker's body, kept as source so it runs the same under tsx, the compiled build and tests.
// bcrypt here blocks neither the event loop nor libuv's pool (which oidc-provider's signing uses).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptPath);
parentPort.on('message', (job) => {
  try {
    const result = job.op === 'hash' ? bcrypt.hashSync(job.password, job.cost) : bcrypt.compareSync(job.password, job.hash);
    parentPort.postMessage({ id: job.id, result });
  } catch (err) {
    parentPort.postMessage({ id: job.id, error: err.message });
  }
});`;
const BCRYPT_PATH = createRequire(import.meta.url).resolve('bcryptjs');

export class PasswordHasher {
  readonly cost: number;
  #workers: Worker[] = [];
  #next = 0;
  #seq = 0;
  #pending = new Map<number, Pending>();
  #dummyHash: string;

  /** `threads`: worker count (default 1, leaving the other core to the server). */
  constructor(cost: number, threads = 1) {
    this.cost = cost;
    // A dummy hash at the configured cost; salt is random, computed once at start.
    this.#dummyHash = bcrypt.hashSync(`dummy-${Math.random()}`, cost);
    for (let i = 0; i < threads; i += 1) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptPath: BCRYPT_PATH } });
      worker.unref();
      worker.on('message', (msg: { id: number; result?: string | boolean; error?: string }) => {
        const job = this.#pending.get(msg.id);
        if (!job) return;
        this.#pending.delete(msg.id);
        if (msg.error !== undefined) job.reject(new Error(msg.error));
        else job.resolve(msg.result!);
      });
      worker.on('error', (err) => {
        for (const job of this.#pending.values()) job.reject(err);
        this.#pending.clear();
      });
      this.#workers.push(worker);
    }
  }

  #run(message: { op: 'hash' | 'compare'; password: string; hash?: string; cost?: number }): Promise<string | boolean> {
    const id = (this.#seq += 1);
    const worker = this.#workers[this.#next]!;
    this.#next = (this.#next + 1) % this.#workers.length;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...message });
    });
  }

  async hash(password: string): Promise<string> {
    if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) throw new PasswordTooLongError();
    return (await this.#run({ op: 'hash', password, cost: this.cost })) as string;
  }

  async verify(password: string, hash: string): Promise<boolean> {
    if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return false;
    return (await this.#run({ op: 'compare', password, hash })) as boolean;
  }

  /** Compares against `hash`, or against a dummy hash when there is none; false in that case. */
  async verifyOrDummy(password: string, hash: string | null | undefined): Promise<boolean> {
    const ok = await this.verify(password, hash ?? this.#dummyHash);
    return ok && Boolean(hash);
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
    this.#workers = [];
  }
}
