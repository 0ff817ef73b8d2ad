/**
 * Password hashing and checking with bcrypt, on a pool of low-priority worker threads
 * (hash-worker-pool.ts says why and how), with the native `bcrypt` package where it loads and
 * bcryptjs otherwise (loadNativeBcrypt says which jobs still go to bcryptjs).
 *
 * - bcrypt reads at most 72 bytes of a password; longer ones are refused (PasswordTooLongError)
 *   where a password is set, never silently truncated. At sign-in they simply do not match.
 * - `verifyOrDummy` compares against a fixed dummy hash of the same cost when there is no user,
 *   so an unknown username costs the same time as a wrong password (no user enumeration). A
 *   stored hash of a lower cost (a config file's `password_hash` from another tool, a user from
 *   before `bcrypt_cost` was raised) would be refused sooner: its mismatch is compared again until
 *   it cost as much as one compare at the server's cost (2^(cost − its cost) compares in all, as
 *   Django's `harden_runtime` does). A hash of a higher cost is refused later (an operator lowered
 *   `bcrypt_cost`): a user's hash of another cost or name than the server writes is replaced at
 *   their next sign-in (`needsRehash`), so each user is refused at the same cost from then on.
 * - A hashing worker that crashes rejects the job it held: the caller's ordinary error path
 *   answers (a sign-in gets the error page), never a hang.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import bcrypt from 'bcryptjs';
import { bcryptCost, HashWorkerPool, loadNativeBcrypt, type BcryptEngine, type HashWorkerStats } from './hash-worker-pool.ts';

export const MAX_PASSWORD_BYTES = 72;

export class PasswordTooLongError extends Error {
  override name = 'PasswordTooLongError';
  constructor() {
    super(`passwords are limited to ${MAX_PASSWORD_BYTES} bytes`);
  }
}

export interface PasswordHasherOptions {
  /** Hashing worker threads. Default: one per core (`os.availableParallelism()`). */
  threads?: number;
  /**
   * 'bcryptjs': hash with bcryptjs alone, as Gatehouse did before native bcrypt (benchmarks compare
   * the two). Default 'bcrypt': native where it loads.
   */
  engine?: 'bcrypt' | 'bcryptjs';
  /** Tests: the native package's name; a missing one shows what happens where it cannot load. */
  nativeModule?: string;
}

/**
 * A hash no password matches, at `cost`: a random salt and a random checksum. Comparing with it
 * costs a full bcrypt at that cost, as with a real hash. Hashing a dummy password instead blocked
 * the event loop for one bcrypt at every start (433 ms at cost 12 in a CPU profile on a busy
 * machine), and in each CLI command that hashes.
 */
export function dummyHash(cost: number): string {
  return bcrypt.genSaltSync(cost) + bcrypt.encodeBase64(randomBytes(23), 23);
}

export class PasswordHasher {
  readonly cost: number;
  readonly #pool: HashWorkerPool;
  readonly #dummyHash: string;

  constructor(cost: number, { threads = availableParallelism(), engine = 'bcrypt', nativeModule }: PasswordHasherOptions = {}) {
    this.cost = cost;
    this.#dummyHash = dummyHash(cost);
    this.#pool = new HashWorkerPool(threads, { engine: engine === 'bcrypt' ? loadNativeBcrypt(nativeModule) : { name: 'bcryptjs' } });
  }

  /** Whether `hash` is not what this hasher writes now (`$2b$` at its cost): replace it at the next sign-in. */
  needsRehash(hash: string): boolean {
    return !hash.startsWith(`$2b$${String(this.cost).padStart(2, '0')}$`);
  }

  /** Which bcrypt hashes: native, or bcryptjs (with why native is unavailable, when it is). */
  get engine(): BcryptEngine {
    return this.#pool.engine;
  }

  async hash(password: string): Promise<string> {
    if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) throw new PasswordTooLongError();
    return (await this.#pool.run({ op: 'hash', password, cost: this.cost })) as string;
  }

  /** `failureCompares`: what a mismatch costs, in compares (HashJob). */
  async verify(password: string, hash: string, failureCompares = 1): Promise<boolean> {
    if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return false;
    return (await this.#pool.run({ op: 'compare', password, hash, failureCompares })) as boolean;
  }

  /**
   * Compares against `hash`, or against a dummy hash when there is none (false then); a mismatch
   * costs what one at the server's cost does (see the top of this file).
   */
  async verifyOrDummy(password: string, hash: string | null | undefined): Promise<boolean> {
    const stored = hash ?? this.#dummyHash;
    const ok = await this.verify(password, stored, 2 ** Math.max(0, this.cost - (bcryptCost(stored) ?? this.cost)));
    return ok && Boolean(hash);
  }

  /** Hashing worker threads. */
  get threads(): number {
    return this.#pool.size;
  }

  /** Each hashing worker: its thread ids, jobs served, busy or not (tests, diagnostics). */
  stats(): HashWorkerStats[] {
    return this.#pool.stats();
  }

  /** Tests: ends hashing worker `index` as a crash would. */
  crashWorker(index: number): Promise<number> {
    return this.#pool.crashWorker(index);
  }

  /** Rejects queued and running jobs and ends every hashing worker (each once its current hash is done). */
  async close(): Promise<void> {
    await this.#pool.close();
  }
}
