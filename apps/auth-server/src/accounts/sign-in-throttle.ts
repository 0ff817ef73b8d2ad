/**
 * Slows down and then locks repeated failed sign-ins, per (username, client) and per client.
 *
 * - A client is what the caller passes as `client`: the client address key of
 *   http/client-address-key.ts, the one the rate limits count under too, i.e. an IPv4 address or
 *   an IPv6 /64. Never a raw IPv6 address: one client holds a whole /64 and would rotate past
 *   every limit here. (Rows counted under full IPv6 addresses by earlier versions are no longer
 *   read; they run out with their window or lock and are pruned.)
 * - After `slowDownAfter` failures of a (username, client) pair, each answer is delayed, doubling
 *   up to 4 s; at `maxFailures` the pair is locked for `lockDuration`. A client is locked likewise
 *   at `maxFailuresPerIp` failures over all usernames (password spraying).
 * - A lock only ever applies to the attacker's own client (for IPv6 its /64, which a user shares
 *   only on the attacker's own network): the same username from another client is unaffected,
 *   attempts during a lock do not extend it, and every lock ends. So nobody can lock a user out
 *   for good.
 * - Callers answer a locked attempt exactly like a wrong password: the lock is never revealed.
 * - Replicas share the counters: an attempt is counted, before its password is checked, by one
 *   upsert that increments the row in the database and returns it (never read here and written
 *   back), so failures spread over several replicas add up, a lock reached through one replica
 *   holds on all of them, and a burst of attempts sent at once gets no more guesses than the limit.
 * - A username is counted under a keyed hash of it (HMAC-SHA-256 with `key`, the first cookie key:
 *   kept outside the database on SQLite, encrypted in it on PostgreSQL, the same on every replica),
 *   never as typed: what was typed may be a password entered in the wrong field, and a copy of
 *   the database must not hold it (as the audit log and connection events keep no unknown name).
 *   Keyed, so a copy cannot be searched for likely passwords either.
 * - A name that finds a user is counted under that user's id (`userId`), not under the name as
 *   typed: PostgreSQL finds users by lower(username), which in a UTF-8 locale folds letters that
 *   JavaScript's toLowerCase() folds otherwise (lower('ADMİN') is 'admin'; 'ADMİN'.toLowerCase()
 *   has a dotted i), so each such spelling of one user's name got a count of its own. A name that
 *   finds nobody is counted as JavaScript folds it; it has nobody to protect.
 * Deliberately not handled here: distributed attacks from many clients against one account beyond
 * the per-pair limit (that needs a second factor, not a lock that would let attackers lock users
 * out), and working out the client from an address (the caller's, as for the rate limits).
 */
import { createHmac } from 'node:crypto';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { AuthServerConfig } from '../../../shared/config/load-config.ts';
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';

interface Row {
  key: string;
  failures: number;
  window_started_at: number;
  locked_until: number | null;
}

const MAX_DELAY_MS = 4000;

/**
 * One failure, counted in the database. A row under a lock is left alone (the WHERE of the
 * update: attempts during a lock do not extend it); a row whose window ran out starts a new
 * window at 1. Reaching `limit` locks the key and resets its count. SET expressions read the
 * row as it was, on both engines. Parameters are cast: PostgreSQL cannot infer a type for a
 * bare parameter in CASE … ELSE NULL.
 */
const IN_WINDOW = 'CAST(@now AS BIGINT) - sign_in_failures.window_started_at < CAST(@window AS BIGINT)';
/** The stored row's failures with this one. */
const NEXT = `(CASE WHEN ${IN_WINDOW} THEN sign_in_failures.failures + 1 ELSE 1 END)`;
const LOCKS = `${NEXT} >= CAST(@limit AS INTEGER)`;
const COUNT_FAILURE = `INSERT INTO sign_in_failures (key, failures, window_started_at, locked_until)
  VALUES (@key, CAST(@firstFailures AS INTEGER), CAST(@now AS BIGINT), CAST(@firstLockedUntil AS BIGINT))
  ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN ${LOCKS} THEN 0 ELSE ${NEXT} END,
    window_started_at = CASE WHEN ${IN_WINDOW} THEN sign_in_failures.window_started_at ELSE CAST(@now AS BIGINT) END,
    locked_until = CASE WHEN ${LOCKS} THEN CAST(@lockedUntil AS BIGINT) ELSE NULL END
  WHERE sign_in_failures.locked_until IS NULL OR sign_in_failures.locked_until <= CAST(@now AS BIGINT)
  RETURNING failures, locked_until`;

export class SignInThrottle {
  readonly #policy: AuthServerConfig['signInThrottle'];
  readonly #clock: Clock;
  readonly #key: string;

  /**
   * `key`: the secret usernames are hashed with (see above); every replica must pass the same.
   * `clock`: windows and locks are counted on it (tests move it to end a lock).
   */
  constructor(private readonly db: SqlDatabase, policy: AuthServerConfig['signInThrottle'], key: string, clock: Clock = systemClock) {
    this.#policy = policy;
    this.#key = key;
    this.#clock = clock;
  }

  // The `ip:` prefix of the rows counted before clients were /64s is kept: IPv4 counts carry over
  // an upgrade. Rows an earlier version keyed by the plain name are no longer read; the sweeper
  // deletes them once their window or lock has run out.
  #pairKey(username: string, client: string, userId: string | undefined): string {
    // The labels differ before their NUL, so no typed name counts as a user's id.
    const counted = userId === undefined ? `sign-in-throttle\0${username.toLowerCase()}` : `sign-in-throttle-user\0${userId}`;
    const name = createHmac('sha256', this.#key).update(counted).digest('base64url');
    return `user#${name}|ip:${client}`;
  }

  /** Whether `row` still counts: under a lock, or inside its window. */
  #current(row: Row | undefined, now: number): Row | undefined {
    if (!row) return undefined;
    const locked = row.locked_until !== null && row.locked_until > now;
    if (!locked && now - row.window_started_at >= this.#policy.window) return undefined;
    return row;
  }

  /** How the (username, client) pair and the client stand now: locked, and how long a failure would be held. */
  async check(username: string, client: string, userId?: string): Promise<{ locked: boolean; delayMs: number }> {
    const now = this.#clock.epochSeconds();
    const pairKey = this.#pairKey(username, client, userId);
    const rows = await this.db.all<Row>('SELECT key, failures, window_started_at, locked_until FROM sign_in_failures WHERE key IN (?, ?)', [pairKey, `ip:${client}`]);
    const pair = this.#current(rows.find((row) => row.key === pairKey), now);
    const byIp = this.#current(rows.find((row) => row.key === `ip:${client}`), now);
    const locked = [pair, byIp].some((row) => row?.locked_until !== null && row?.locked_until !== undefined && row.locked_until > now);
    return { locked, delayMs: locked ? MAX_DELAY_MS : this.#delay(pair?.failures ?? 0) };
  }

  /**
   * Counts a sign-in attempt before its password is checked, as a failure until `recordSuccess`
   * says otherwise. Counting first bounds the guesses: of many attempts sent at once, to one
   * replica or several, only `maxFailures` get their password checked; the rest find the lock.
   * `locked`: a lock was in force, so the password must not be checked (and nothing was counted
   * for the pair when the pair was locked; an attempt refused for its client's lock still counts
   * for its pair). `delayMs`: how long to hold the answer if it fails. `userId`: the user the name
   * found, if any (see the top of this file).
   */
  async attempt(username: string, client: string, userId?: string): Promise<{ locked: boolean; delayMs: number }> {
    const now = this.#clock.epochSeconds();
    const pair = await this.#count(this.#pairKey(username, client, userId), this.#policy.maxFailures, now);
    if (!pair) return { locked: true, delayMs: MAX_DELAY_MS };
    const byIp = await this.#count(`ip:${client}`, this.#policy.maxFailuresPerIp, now);
    if (!byIp) return { locked: true, delayMs: MAX_DELAY_MS };
    return { locked: false, delayMs: this.#delay(pair.failuresBefore) };
  }

  /** How long to hold a failure that follows `failures` others of its pair. */
  #delay(failures: number): number {
    const excess = failures - this.#policy.slowDownAfter;
    return excess >= 0 ? Math.min(MAX_DELAY_MS, 250 * 2 ** excess) : 0;
  }

  /** Counts one failure for `key`; undefined when `key` is locked (nothing is counted then). */
  async #count(key: string, limit: number, now: number): Promise<{ failuresBefore: number } | undefined> {
    const lockedUntil = now + this.#policy.lockDuration;
    const firstLocks = limit <= 1;
    const row = await this.db.get<Pick<Row, 'failures' | 'locked_until'>>(COUNT_FAILURE, {
      key, now, limit, lockedUntil,
      window: this.#policy.window,
      firstFailures: firstLocks ? 0 : 1,
      firstLockedUntil: firstLocks ? lockedUntil : null,
    });
    if (!row) return undefined;
    // This failure set the lock (and reset the count): it was the limit-th.
    return { failuresBefore: row.locked_until !== null ? limit - 1 : row.failures - 1 };
  }

  /**
   * A successful sign-in clears its (username, client) record and gives back what `attempt`
   * counted against the client (a lock already set stays: it runs out by itself).
   */
  async recordSuccess(username: string, client: string, userId?: string): Promise<void> {
    await this.db.run('DELETE FROM sign_in_failures WHERE key = ?', [this.#pairKey(username, client, userId)]);
    await this.db.run('UPDATE sign_in_failures SET failures = failures - 1 WHERE key = ? AND failures > 0', [`ip:${client}`]);
  }

  async prune(now = this.#clock.epochSeconds()): Promise<void> {
    await this.db.run('DELETE FROM sign_in_failures WHERE window_started_at < @windowStart AND (locked_until IS NULL OR locked_until < @now)', {
      windowStart: now - this.#policy.window, now,
    });
  }
}
