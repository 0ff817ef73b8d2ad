/**
 * Token buckets in the database, so counts survive a restart and every replica on one database
 * shares them. A bucket holds at most `max` tokens and refills evenly, `max` per `window`
 * seconds: a client may send `max` requests at once, then one every `window / max` seconds.
 *
 * - Taking a token is one upsert that refills and takes in the database (the refill is computed
 *   from the row as it is there, never read here and written back), so two replicas taking from
 *   one bucket at the same instant take two tokens. A refused request writes nothing.
 * - Time comes from the caller (epoch ms), so tests drive it; a clock that went back counts as
 *   no time passed. Replicas' clocks may differ by a little: the bucket never moves back in time.
 * Deliberately not done here: choosing the key (see limit-requests.ts) or answering the request.
 */
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';

export interface RateLimit {
  /** Requests allowed at once (the bucket's size). */
  max: number;
  /** Seconds over which an empty bucket refills to `max`. */
  window: number;
}

/** What limit-requests.ts takes tokens from: this class, or local-rate-limiter.ts on SQLite. */
export interface TokenBuckets {
  /** Takes one token from `key`'s bucket: 0 when allowed, else the seconds until one is free. */
  take(key: string, limit: RateLimit, now: number): Promise<number>;
  /** Deletes buckets untouched for `longestWindow` seconds: they are full again, like no row. */
  prune(longestWindow: number, now: number): Promise<number>;
  /** Writes what is not written yet. */
  close(): Promise<void>;
}

interface Bucket {
  tokens: number;
  updated_at: number;
}

/** Tokens added per millisecond. */
export const refillPerMs = (limit: RateLimit): number => limit.max / (limit.window * 1000);

/** The tokens a bucket holds at `now`: refilled since `updatedAt`, at most `max`; time never runs back. */
export function refilledTokens(tokens: number, updatedAt: number, limit: RateLimit, now: number): number {
  return Math.min(limit.max, tokens + Math.max(0, now - updatedAt) * refillPerMs(limit));
}

/** Whole seconds (at least 1) until a bucket holding `tokens` has one to give: Retry-After. */
export function secondsUntilToken(tokens: number, limit: RateLimit): number {
  return Math.max(1, Math.ceil((1 - tokens) / refillPerMs(limit) / 1000));
}

/**
 * The refilled bucket, as SQL over the stored row. SQLite's multi-argument min()/max() are
 * PostgreSQL's LEAST/GREATEST. Parameters are cast: PostgreSQL would otherwise type `@perMs`
 * as the BIGINT it is multiplied with.
 */
function takeStatement(dialect: SqlDatabase['dialect']): string {
  const [least, greatest] = dialect === 'postgres' ? ['LEAST', 'GREATEST'] : ['min', 'max'];
  const now = 'CAST(@now AS BIGINT)';
  const refilled = `${least}(CAST(@max AS DOUBLE PRECISION), rate_limit_buckets.tokens
    + ${greatest}(0, ${now} - rate_limit_buckets.updated_at) * CAST(@perMs AS DOUBLE PRECISION))`;
  return `INSERT INTO rate_limit_buckets (key, tokens, updated_at) VALUES (@key, CAST(@max AS DOUBLE PRECISION) - 1, ${now})
    ON CONFLICT (key) DO UPDATE SET tokens = ${refilled} - 1, updated_at = ${greatest}(${now}, rate_limit_buckets.updated_at)
    WHERE ${refilled} >= 1
    RETURNING tokens`;
}

export class RateLimiter implements TokenBuckets {
  readonly #take: string;

  constructor(private readonly db: SqlDatabase) {
    this.#take = takeStatement(db.dialect);
  }

  /** Takes one token from `key`'s bucket: 0 when allowed, else the seconds until one is free. */
  async take(key: string, limit: RateLimit, now: number): Promise<number> {
    const taken = await this.db.get(this.#take, { key, max: limit.max, perMs: refillPerMs(limit), now });
    if (taken) return 0;
    // Refused: only Retry-After is left to compute, from the bucket as it is now.
    const bucket = await this.db.get<Bucket>('SELECT tokens, updated_at FROM rate_limit_buckets WHERE key = ?', [key]);
    if (!bucket) return 1;
    return secondsUntilToken(refilledTokens(bucket.tokens, bucket.updated_at, limit, now), limit);
  }

  /** Deletes buckets untouched for `longestWindow` seconds: they are full again, like no row. */
  async prune(longestWindow: number, now: number): Promise<number> {
    return (await this.db.run('DELETE FROM rate_limit_buckets WHERE updated_at < ?', [now - longestWindow * 1000])).changes;
  }

  /** Nothing to write: every take is in the database already. */
  async close(): Promise<void> {}
}
