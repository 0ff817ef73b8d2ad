/**
 * A clock tests move instead of sleeping (apps/shared/clock.ts). It stands still until told:
 * `advance(seconds)` is the only way time passes, so a test of a 2-second lock or a 1-second idle
 * timeout takes no wall time and cannot race the machine's load.
 *
 * It moves only our code's time. oidc-provider and the polling and sweep timers keep real time: a test that advances past a token's lifetime sees our adapter, verifier and policies
 * treat it as expired, not the provider's own checks, and no interval fires early.
 */
import type { Clock } from '../../apps/shared/clock.ts';

export class TestClock implements Clock {
  #ms: number;

  /** Starts at `startMs` (epoch milliseconds), the wall clock's now by default. */
  constructor(startMs = Date.now()) {
    this.#ms = startMs;
  }

  now(): number {
    return this.#ms;
  }

  epochSeconds(): number {
    return Math.floor(this.#ms / 1000);
  }

  /** Moves time on by `seconds` (fractions allowed). */
  advance(seconds: number): void {
    this.#ms += seconds * 1000;
  }

  /** Moves time on by `ms` at once (a held sign-in answer returns without a real wait). */
  async wait(ms: number): Promise<void> {
    this.advance(ms / 1000);
  }

  /** Sets the time to `epochMs` (tests that compute an exact instant, such as one second before a deadline). */
  set(epochMs: number): void {
    this.#ms = epochMs;
  }
}
