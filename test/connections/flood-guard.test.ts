/**
 * The guard that keeps repeated refusals from flooding the connection events
 * (apps/resource-server/src/connections/flood-guard.ts): once per key per window, a total cap per
 * window, bounded memory; time from a TestClock, never the wall clock.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FloodGuard } from '../../apps/shared/connections/flood-guard.ts';
import { TestClock } from '../helpers/test-clock.ts';

describe('FloodGuard', () => {
  test('admits a key once per window, and again once the window has passed', () => {
    const clock = new TestClock();
    const guard = new FloodGuard({ clock, windowMs: 60_000 });
    assert.equal(guard.admits('token_expired a'), true);
    assert.equal(guard.admits('token_expired a'), false);
    assert.equal(guard.admits('wrong_audience a'), true, 'another reason for the same token is its own key');
    clock.advance(59.999);
    assert.equal(guard.admits('token_expired a'), false);
    clock.advance(0.001);
    assert.equal(guard.admits('token_expired a'), true);
  });

  test('admits at most maxPerWindow in all per window, keyed or not, then opens a new window', () => {
    const clock = new TestClock();
    const guard = new FloodGuard({ clock, windowMs: 60_000, maxPerWindow: 3 });
    assert.deepEqual(['a', 'b', undefined, 'c', undefined].map((key) => guard.admits(key)), [true, true, true, false, false]);
    clock.advance(60);
    assert.equal(guard.admits('c'), true);
  });

  test('remembers at most maxKeys keys, forgetting the least recently admitted first', () => {
    const clock = new TestClock();
    const guard = new FloodGuard({ clock, maxKeys: 3, maxPerWindow: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 1000; i++) guard.admits(`token ${i}`);
    assert.equal(guard.size, 3);
    assert.equal(guard.admits('token 999'), false, 'a recent key is still remembered');
    assert.equal(guard.admits('token 0'), true, 'the oldest was forgotten: memory wins over exactness');
  });

  for (const [what, options] of [
    ['a window of 0', { windowMs: 0 }],
    ['no keys', { maxKeys: 0 }],
    ['a fractional key count', { maxKeys: 1.5 }],
    ['a cap of 0', { maxPerWindow: 0 }],
  ] as const) {
    test(`refuses ${what} when built`, () => {
      assert.throws(() => new FloodGuard({ clock: new TestClock(), ...options }), TypeError);
    });
  }
});
