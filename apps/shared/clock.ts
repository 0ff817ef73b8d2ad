/**
 * The one source of "now" for both apps: expiries, throttles, locks, rate limits, idle timeouts
 * and key stages read it, so tests move time (test/helpers/test-clock.ts) instead of sleeping.
 *
 * - Each app's factory (createAuthServer, createResourceServer) takes a `clock` option, default
 *   `systemClock`, and hands it to every store and policy that decides something by time.
 * - `wait` is for a wait that is itself a policy (holding the answer to a failed sign-in): on a
 *   test clock it moves time on at once, so a test asserts how long the answer was held instead
 *   of measuring it.
 * - Not covered: oidc-provider reads `Date.now()` itself (token `iat`/`exp`, its own expiry checks,
 *   cookie max-ages). Where the two meet is said where it happens (the SQLite adapter, the refresh
 *   token TTL). Durations measured for logs and metrics use `performance.now()`, and polling and
 *   sweep timers (`setTimeout`, `setInterval`) run on real time: a clock that is moved fires no timer.
 */
import { setTimeout } from 'node:timers/promises';

export interface Clock {
  /** Milliseconds since the epoch (as `Date.now()`). */
  now(): number;
  /** Whole seconds since the epoch: a JWT NumericDate (RFC 7519 §2), the unit of stored expiries. */
  epochSeconds(): number;
  /** Resolves after `ms` milliseconds of this clock's time. */
  wait(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  epochSeconds: () => Math.floor(Date.now() / 1000),
  wait: async (ms) => {
    await setTimeout(ms);
  },
};
