/**
 * Token buckets in SQLite, so counts survive a restart and replicas on one database could share
 * them. A bucket holds at most `max` tokens and refills evenly, `max` per `window` seconds: a
 * client may send `max` requests at once, then one every `window / max` seconds.
 *
 * - Taking a token reads and writes the row in one IMMEDIATE transaction (another process cannot
 *   interleave). A refused request writes nothing, so a flood costs reads only.
 * - Time comes from the caller (epoch ms), so tests drive it; a clock that went back counts as
 *   no time passed.
 * Deliberately not done here: choosing the key (see limit-requests.ts) or answering the request.
 */
import type { Db } from '../../../shared/database.ts';

export interface RateLimit {
  /** Requests allowed at once (the bucket's size). */
  max: number;
  /** Seconds over which an empty bucket refills to `max`. */
  window: number;
}

interface Bucket {
  tokens: number;
  updated_at: number;
}

export class RateLimiter {
  readonly #get;
  readonly #put;
  readonly #prune;
  readonly #take;

  constructor(db: Db) {
    this.#get = db.prepare('SELECT tokens, updated_at FROM rate_limit_buckets WHERE key = ?');
    this.#put = db.prepare(`INSERT INTO rate_limit_buckets (key, tokens, updated_at) VALUES (?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at`);
    this.#prune = db.prepare('DELETE FROM rate_limit_buckets WHERE updated_at < ?');
    this.#take = db.transaction((key: string, limit: RateLimit, now: number): number => {
      const perMs = limit.max / (limit.window * 1000);
      const bucket = this.#get.get(key) as Bucket | undefined;
      const elapsed = bucket ? Math.max(0, now - bucket.updated_at) : 0;
      const tokens = bucket ? Math.min(limit.max, bucket.tokens + elapsed * perMs) : limit.max;
      if (tokens >= 1) {
        this.#put.run(key, tokens - 1, bucket ? Math.max(now, bucket.updated_at) : now);
        return 0;
      }
      return Math.max(1, Math.ceil((1 - tokens) / perMs / 1000));
    });
  }

  /** Takes one token from `key`'s bucket: 0 when allowed, else the seconds until one is free. */
  take(key: string, limit: RateLimit, now: number): number {
    return this.#take.immediate(key, limit, now);
  }

  /** Deletes buckets untouched for `longestWindow` seconds: they are full again, like no row. */
  prune(longestWindow: number, now: number): number {
    return this.#prune.run(now - longestWindow * 1000).changes;
  }
}
