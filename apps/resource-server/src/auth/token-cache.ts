/**
 * A bounded, least-recently-used map from an access token to what verifying it produced, each
 * entry kept only until the token's own `exp`.
 *
 * - Only successful verifications go in, so an entry never outlives the answer jose gave for it.
 * - Bounded by count (`maxEntries`); beyond it the least recently used entry is dropped. A Map
 *   iterates in insertion order, so re-inserting on every hit keeps the oldest entry first.
 * - `maxEntries` 0 disables the cache: every lookup misses and nothing is stored.
 */
export class TokenCache<Value extends { expiresAt: number }> {
  readonly #entries = new Map<string, Value>();
  readonly #maxEntries: number;

  constructor(maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0) {
      throw new TypeError('maxEntries must be a non-negative integer');
    }
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached value for `token` if it has not expired at `nowSeconds`. */
  get(token: string, nowSeconds: number): Value | undefined {
    const value = this.#entries.get(token);
    if (value === undefined) return undefined;
    this.#entries.delete(token);
    if (value.expiresAt <= nowSeconds) return undefined;
    this.#entries.set(token, value);
    return value;
  }

  set(token: string, value: Value): void {
    if (this.#maxEntries === 0) return;
    this.#entries.delete(token);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(token, value);
  }
}
