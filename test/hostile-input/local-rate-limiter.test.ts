/**
 * Issue 15: on SQLite the per-IP token buckets are counted in the process and written in
 * batches (http/local-rate-limiter.ts) instead of one write transaction per token request. They
 * must count exactly as the database statement does, and lose nothing on a clean stop.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LocalRateLimiter } from '../../apps/auth-server/src/http/local-rate-limiter.ts';
import { RateLimiter } from '../../apps/auth-server/src/http/rate-limiter.ts';
import { openAuthDatabase, type TestAuthDatabase } from '../helpers/open-auth-database.ts';

const LIMIT = { max: 3, window: 60 };
/** No batch is written by the timer during a test: only flush() and close() write. */
const NEVER = 3_600_000;

describe('token buckets counted in the process (SQLite)', () => {
  let database: TestAuthDatabase;
  before(async () => {
    database = await openAuthDatabase('sqlite');
  });
  after(() => database.close());

  test('answers every take as the database statement does: refills, Retry-After, a clock that goes back', async () => {
    const local = new LocalRateLimiter(database.db, { flushIntervalMs: NEVER });
    const stored = new RateLimiter(database.db);
    // [ms since start, key]: bursts past the limit, partial refills, time going back, two keys.
    const steps: Array<[number, string]> = [
      [0, 'a'], [0, 'a'], [0, 'a'], [0, 'a'], [1000, 'a'], [19_999, 'a'], [20_000, 'a'], [20_000, 'a'],
      [5000, 'a'], [25_000, 'b'], [90_000, 'a'], [90_000, 'a'], [90_000, 'a'], [90_000, 'a'], [90_001, 'b'],
    ];
    const start = 1_700_000_000_000;
    for (const [at, key] of steps) {
      const expected = await stored.take(`stored:${key}`, LIMIT, start + at);
      assert.equal(await local.take(`local:${key}`, LIMIT, start + at), expected, `take of ${key} at +${at} ms`);
    }
    await local.close();
  });

  test('a clean stop writes the counts: the next start refuses past the limit', async () => {
    const first = new LocalRateLimiter(database.db, { flushIntervalMs: NEVER });
    for (let i = 0; i < LIMIT.max; i += 1) assert.equal(await first.take('restart', LIMIT, 1000), 0);
    await first.close();
    const second = new LocalRateLimiter(database.db, { flushIntervalMs: NEVER });
    assert.equal(await second.take('restart', LIMIT, 1000), 20);
    await second.close();
  });

  test('a written batch is what another start reads, without a clean stop', async () => {
    const running = new LocalRateLimiter(database.db, { flushIntervalMs: NEVER });
    for (let i = 0; i < LIMIT.max; i += 1) await running.take('batch', LIMIT, 1000);
    await running.flush();
    const next = new LocalRateLimiter(database.db, { flushIntervalMs: NEVER });
    assert.equal(await next.take('batch', LIMIT, 1000), 20);
    await next.close();
    await running.close();
  });

  test('concurrent first takes of one key share one bucket', async () => {
    const limiter = new LocalRateLimiter(database.db, { flushIntervalMs: NEVER });
    const waits = await Promise.all(Array.from({ length: 5 }, () => limiter.take('burst', LIMIT, 1000)));
    assert.equal(waits.filter((wait) => wait === 0).length, LIMIT.max);
    await limiter.close();
  });

  test('a bucket dropped past maxKeys is read again from the database, so it still counts', async () => {
    const limiter = new LocalRateLimiter(database.db, { flushIntervalMs: NEVER, maxKeys: 1 });
    for (let i = 0; i < LIMIT.max; i += 1) await limiter.take('evicted', LIMIT, 1000);
    await limiter.take('other', LIMIT, 1000);
    await limiter.flush();
    assert.equal(await limiter.take('evicted', LIMIT, 1000), 20);
    await limiter.close();
  });
});
