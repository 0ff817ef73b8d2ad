/**
 * Slows down and then locks repeated failed sign-ins, per (username, client IP) and per client IP.
 *
 * - After `slowDownAfter` failures of a (username, IP) pair, each answer is delayed, doubling up
 *   to 4 s; at `maxFailures` the pair is locked for `lockDuration`. An IP is locked likewise at
 *   `maxFailuresPerIp` failures over all usernames (password spraying).
 * - A lock only ever applies to the attacker's own IP: the same username from another address
 *   is unaffected, attempts during a lock do not extend it, and every lock ends. So nobody can
 *   lock a user out for good.
 * - Callers answer a locked attempt exactly like a wrong password: the lock is never revealed.
 * Deliberately not handled here: distributed attacks from many IPs against one account beyond
 * the per-pair limit (that needs a second factor, not a lock that would let attackers lock users out).
 */
import type { AuthServerConfig } from '../../../shared/config/load-config.ts';
import type { Db } from '../../../shared/database.ts';

interface Row {
  failures: number;
  window_started_at: number;
  locked_until: number | null;
}

const MAX_DELAY_MS = 4000;
const epoch = () => Math.floor(Date.now() / 1000);

export class SignInThrottle {
  readonly #policy: AuthServerConfig['signInThrottle'];
  readonly #get;
  readonly #put;
  readonly #clear;
  readonly #prune;

  constructor(db: Db, policy: AuthServerConfig['signInThrottle']) {
    this.#policy = policy;
    this.#get = db.prepare('SELECT failures, window_started_at, locked_until FROM sign_in_failures WHERE key = ?');
    this.#put = db.prepare(`INSERT INTO sign_in_failures (key, failures, window_started_at, locked_until) VALUES (@key, @failures, @windowStartedAt, @lockedUntil)
      ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, window_started_at = excluded.window_started_at, locked_until = excluded.locked_until`);
    this.#clear = db.prepare('DELETE FROM sign_in_failures WHERE key = ?');
    this.#prune = db.prepare('DELETE FROM sign_in_failures WHERE window_started_at < @windowStart AND (locked_until IS NULL OR locked_until < @now)');
  }

  static #pairKey(username: string, ip: string): string {
    return `user:${username.toLowerCase()}|ip:${ip}`;
  }

  #current(key: string, now: number): Row | undefined {
    const row = this.#get.get(key) as Row | undefined;
    if (!row) return undefined;
    const locked = row.locked_until !== null && row.locked_until > now;
    if (!locked && now - row.window_started_at >= this.#policy.window) return undefined;
    return row;
  }

  /** Whether this attempt is locked out, and how long to hold the answer to a failure. */
  check(username: string, ip: string): { locked: boolean; delayMs: number } {
    const now = epoch();
    const pair = this.#current(SignInThrottle.#pairKey(username, ip), now);
    const byIp = this.#current(`ip:${ip}`, now);
    const locked = [pair, byIp].some((row) => row?.locked_until !== null && row?.locked_until !== undefined && row.locked_until > now);
    const failures = pair?.failures ?? 0;
    const excess = failures - this.#policy.slowDownAfter;
    const delayMs = excess >= 0 ? Math.min(MAX_DELAY_MS, 250 * 2 ** excess) : 0;
    return { locked, delayMs: locked ? MAX_DELAY_MS : delayMs };
  }

  recordFailure(username: string, ip: string): void {
    const now = epoch();
    this.#count(SignInThrottle.#pairKey(username, ip), this.#policy.maxFailures, now);
    this.#count(`ip:${ip}`, this.#policy.maxFailuresPerIp, now);
  }

  #count(key: string, limit: number, now: number): void {
    const row = this.#current(key, now);
    if (row?.locked_until && row.locked_until > now) return; // attempts during a lock do not extend it
    const failures = (row?.failures ?? 0) + 1;
    const lock = failures >= limit;
    this.#put.run({
      key,
      failures: lock ? 0 : failures,
      windowStartedAt: row?.window_started_at ?? now,
      lockedUntil: lock ? now + this.#policy.lockDuration : null,
    });
  }

  /** A successful sign-in clears its (username, IP) record; the IP's count runs out by itself. */
  recordSuccess(username: string, ip: string): void {
    this.#clear.run(SignInThrottle.#pairKey(username, ip));
  }

  prune(now = epoch()): void {
    this.#prune.run({ windowStart: now - this.#policy.window, now });
  }
}
