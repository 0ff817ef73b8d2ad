/**
 * A clock tests move instead of sleeping (apps/shared/clock.ts). `new TestClock()` stands still
 * until told: `advance(seconds)` is the only way its time passes, so a test of a lock or an idle
 * timeout takes no wall time and cannot race the machine's load. `TestClock.ahead(seconds)` runs
 * with the wall clock, that far ahead of it (and `advance` moves it further).
 *
 * It moves only our code's time. oidc-provider and the polling and sweep timers keep real time:
 * a test that advances past a token's lifetime sees our adapter, verifier and policies treat it
 * as expired, not the provider's own checks, and no interval fires early.
 */
import type { Clock } from '../../apps/shared/clock.ts';

export class TestClock implements Clock {
  #base: () => number;
  #offsetMs = 0;

  /** Stands still at `startMs` (epoch milliseconds), the wall clock's now by default. */
  constructor(startMs = Date.now()) {
    this.#base = () => startMs;
  }

  /** Runs with the wall clock, `seconds` ahead of it. */
  static ahead(seconds: number): TestClock {
    const clock = new TestClock();
    clock.#base = Date.now;
    clock.#offsetMs = seconds * 1000;
    return clock;
  }

  now(): number {
    return this.#base() + this.#offsetMs;
  }

  epochSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** Moves time on by `seconds` (fractions allowed). */
  advance(seconds: number): void {
    this.#offsetMs += seconds * 1000;
  }

  /** Moves time on by `ms` at once (a held sign-in answer returns without a real wait). */
  async wait(ms: number): Promise<void> {
    this.advance(ms / 1000);
  }

  /** Sets the time to `epochMs` (tests that compute an exact instant, such as one second before a deadline). */
  set(epochMs: number): void {
    this.#offsetMs = epochMs - this.#base();
  }
}
