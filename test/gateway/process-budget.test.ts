/**
 * The stdio process limits: in all, and per user for per-user processes; a slot comes back when
 * its process is stopped for good, once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessBudget } from '../../apps/resource-server/src/gateway/process-budget.ts';
import { ProcessLimitError } from '../../apps/resource-server/src/gateway/upstream-errors.ts';

test('refuses a user\'s process past the per-user limit, while other users still get theirs', () => {
  const budget = new ProcessBudget(10, 2);
  budget.take('alice');
  budget.take('alice');
  assert.throws(() => budget.take('alice'), (err: unknown) => err instanceof ProcessLimitError && /per-user limit/.test((err as Error).message));
  assert.doesNotThrow(() => budget.take('bob'));
});

test('refuses any process past the total, shared ones included, until one is released (once)', () => {
  const budget = new ProcessBudget(2, 2);
  const shared = budget.take();
  const alice = budget.take('alice');
  assert.throws(() => budget.take('bob'), /max_processes/);
  alice();
  alice();
  assert.equal(budget.used, 1, 'releasing twice gives back one slot');
  assert.doesNotThrow(() => budget.take('bob'));
  shared();
  assert.equal(budget.used, 1);
});
