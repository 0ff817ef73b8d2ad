/**
 * The sweeper's rounds: asynchronous tasks (stores on SqlDatabase) are awaited in turn, a failing
 * one is reported and the others still run, and a slow round is never overlapped by the next.
 * Node's mock timers drive the interval; no wall-clock waiting.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { startSweeper } from '../../apps/auth-server/src/provider/start-sweeper.ts';

/** Lets every settled promise's continuation run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the sweeper', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval'] }));
  afterEach(() => mock.timers.reset());

  test('a task that rejects is reported, and the tasks after it still run', async () => {
    const ran: string[] = [];
    const errors: unknown[] = [];
    const stop = startSweeper([
      async () => { ran.push('first'); throw new Error('database unavailable'); },
      () => { ran.push('second'); },
      async () => { ran.push('third'); },
    ], 1000, (err) => errors.push(err));
    mock.timers.tick(1000);
    await settle();
    stop();
    assert.deepEqual(ran, ['first', 'second', 'third']);
    assert.deepEqual(errors.map((e) => (e as Error).message), ['database unavailable']);
  });

  test('a round still running when the next is due is not overlapped', async () => {
    let started = 0;
    let finish!: () => void;
    const stop = startSweeper([() => {
      started += 1;
      return new Promise<void>((resolve) => (finish = resolve));
    }], 1000);
    mock.timers.tick(1000);
    await settle();
    mock.timers.tick(1000);
    await settle();
    assert.equal(started, 1, 'the second round was skipped');
    finish();
    await settle();
    mock.timers.tick(1000);
    await settle();
    stop();
    assert.equal(started, 2, 'the next round after it ended runs');
  });
});
