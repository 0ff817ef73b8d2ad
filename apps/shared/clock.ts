/**
 * The one source of "now" for both apps: expiries, throttles, locks, rate limits, idle timeouts
 * and key stages read it, so tests move time (test/helpers/test-clock.ts) instead of sleeping.
 *
 * - Each app's factory (createAuthServer, createResourceServer) takes a `clock` option, default
 *   `systemClock`, and hands it to every store and policy that decides something by time.
 * - Not covered: oidc-provider reads `Date.now()` itself (token `iat`/`exp`, its own expiry checks,
 *   cookie max-ages). Where the two meet is said where it happens (the SQLite adapter, the refresh
 *   token TTL). Durations measured for logs and metrics use `performance.now()`, and timers
 *   (`setTimeout`, `setInterval`) run on real time: a clock that is moved fires no timer.
 */

export interface Clock {
  /** Milliseconds since the epoch (as `Date.now()`). */
  now(): number;
  /** Whole seconds since the epoch: a JWT NumericDate (RFC 7519 §2), the unit of stored expiries. */
  epochSeconds(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  epochSeconds: () => Math.floor(Date.now() / 1000),
};
