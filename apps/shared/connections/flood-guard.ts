/**
 * Keeps repeats from flooding the connection events: a client hammering the MCP endpoint with one
 * expired token is recorded once a minute, not once a request.
 *
 * - `admits(key)`: false when `key` (a token's id or hash, with the reason) was admitted less than
 *   `windowMs` ago. Without a key only the total cap below applies.
 * - At most `maxPerWindow` admissions in all per window (a fixed window starting at the first
 *   admission after the last one ended), so a flood of distinct tokens, each new, cannot flood
 *   the store either.
 * - Bounded memory: at most `maxKeys` keys; beyond that the least recently admitted is forgotten
 *   (a Map iterates in insertion order, and an admission re-inserts its key). A key forgotten
 *   early may be admitted again before its window is out: bounded memory wins over exactness.
 * - Time is the injected clock's, so tests move it instead of sleeping.
 */
import type { Clock } from '../clock.ts';

export interface FloodGuardOptions {
  clock: Clock;
  /** How long an admitted key is not admitted again, in milliseconds. Default is 60000. */
  windowMs?: number;
  /** Keys remembered at most. Default is 1000. */
  maxKeys?: number;
  /** Admissions per window at most, keyed or not. Default is 600. */
  maxPerWindow?: number;
}

export class FloodGuard {
  readonly #clock: Clock;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #maxPerWindow: number;
  /** Key → when it was last admitted (epoch ms), least recently admitted first. */
  readonly #admitted = new Map<string, number>();
  #windowStart = Number.NEGATIVE_INFINITY;
  #inWindow = 0;

  constructor({ clock, windowMs = 60_000, maxKeys = 1000, maxPerWindow = 600 }: FloodGuardOptions) {
    if (!(windowMs > 0)) throw new TypeError('windowMs must be positive');
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new TypeError('maxKeys must be a positive integer');
    if (!(maxPerWindow >= 1)) throw new TypeError('maxPerWindow must be at least 1');
    this.#clock = clock;
    this.#windowMs = windowMs;
    this.#maxKeys = maxKeys;
    this.#maxPerWindow = maxPerWindow;
  }

  /** Keys remembered now (for tests: it never exceeds `maxKeys`). */
  get size(): number {
    return this.#admitted.size;
  }

  /** Whether to record now; an admission counts against `key` and the window's total. */
  admits(key?: string): boolean {
    const now = this.#clock.now();
    const last = key === undefined ? undefined : this.#admitted.get(key);
    if (last !== undefined && now - last < this.#windowMs) return false;
    if (now - this.#windowStart >= this.#windowMs) {
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (this.#inWindow >= this.#maxPerWindow) return false;
    this.#inWindow += 1;
    if (key !== undefined) {
      this.#admitted.delete(key);
      if (this.#admitted.size >= this.#maxKeys) this.#admitted.delete(this.#admitted.keys().next().value!);
      this.#admitted.set(key, now);
    }
    return true;
  }
}
