/**
 * What an admin must read about a scenario's attempt, whichever way it is read (the CLI's
 * `--json`, the server's ConnectionLog): the steps in order, the outcome, and for a failure the
 * explanation (step, RFC error, reason code) and a reason in words naming the values.
 */
import assert from 'node:assert/strict';
import type { ConnectionAttempt, ConnectionAttemptSummary, ConnectionStep } from '../../../apps/shared/connection-events.ts';
import type { Scenario, ScenarioRun } from './failing-connections.ts';

/** The CLI prints wire-style snake_case keys (`last_step`, `reason_code`); the contract's names are camelCase. */
export function camelCaseKeys<T>(value: unknown): T {
  if (Array.isArray(value)) return value.map((item) => camelCaseKeys(item)) as T;
  if (value === null || typeof value !== 'object') return value as T;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), camelCaseKeys(item)])) as T;
}

/** True when `expected` appears within `actual` in order (other steps may come between). */
function inOrder(actual: ConnectionStep[], expected: ConnectionStep[]): boolean {
  let next = 0;
  for (const step of actual) if (step === expected[next]) next += 1;
  return next === expected.length;
}

/** The summary a list shows for the scenario's attempt. */
export function assertSummary(summary: ConnectionAttemptSummary, scenario: Scenario, run: ScenarioRun): void {
  const what = `${scenario.key}: ${JSON.stringify(summary)}`;
  assert.equal(summary.outcome, scenario.outcome, what);
  assert.equal(summary.clientId, run.clientId, what);
  if (!scenario.failure) {
    assert.equal(summary.explanation, undefined, what);
    return;
  }
  const { explanation } = summary;
  assert.ok(explanation, `a failed attempt is explained: ${what}`);
  assert.equal(explanation.step, scenario.failure.step, what);
  assert.equal(explanation.error, scenario.failure.error, what);
  assert.equal(explanation.reasonCode, scenario.failure.reasonCode, what);
  for (const value of run.named) assert.ok(explanation.reason.includes(value), `the reason names ${value}: ${explanation.reason}`);
  if (scenario.failure.says) assert.match(explanation.reason, scenario.failure.says, what);
}

/** The whole timeline of the scenario's attempt (`show`). */
export function assertTimeline(attempt: ConnectionAttempt, scenario: Scenario, run: ScenarioRun): void {
  assertSummary(attempt, scenario, run);
  const steps = attempt.events.map((event) => event.step);
  assert.ok(inOrder(steps, scenario.steps), `${scenario.key}: expected ${scenario.steps.join(' → ')} in order, got ${steps.join(' → ')}`);
  // Epoch ms from the server's log, ISO 8601 from the CLI's --json.
  const times = attempt.events.map((event) => new Date(event.at).getTime());
  assert.ok(times.every((time) => Number.isFinite(time)), 'each event has its time');
  assert.deepEqual(times, [...times].sort((a, b) => a - b), 'oldest first');
  assert.equal(attempt.lastStep, steps.at(-1));

  const expected = scenario.failure ?? scenario.alongTheWay;
  const refusals = attempt.events.filter((event) => event.outcome === 'refused');
  if (!expected) {
    assert.deepEqual(refusals, [], `${scenario.key}: no refusal in a clean connection`);
    return;
  }
  const refusal = refusals.find((event) => event.reasonCode === expected.reasonCode);
  assert.ok(refusal, `${scenario.key}: a refused ${expected.step} event with ${expected.reasonCode}, got ${JSON.stringify(refusals)}`);
  assert.equal(refusal.app, expected.app);
  assert.equal(refusal.step, expected.step);
  assert.equal(refusal.error, expected.error);
  if (scenario.thenRecorded) {
    const { step, error, redirectUri } = scenario.thenRecorded;
    const later = attempt.events.slice(attempt.events.indexOf(refusal) + 1).find((event) => event.step === step);
    assert.ok(later, `${scenario.key}: a ${step} event after the refusal: ${steps.join(' → ')}`);
    assert.equal(later.error, error);
    assert.equal(later.redirectUri, redirectUri);
  }
  if (scenario.alongTheWay) {
    for (const value of run.named) assert.ok(refusal.reason?.includes(value), `the ${refusal.step} reason names ${value}: ${refusal.reason}`);
    if (scenario.alongTheWay.says) assert.match(refusal.reason ?? '', scenario.alongTheWay.says);
    assert.ok(refusals.every((event) => event.reasonCode === expected.reasonCode), `${scenario.key}: only ${expected.reasonCode} refusals on the way: ${JSON.stringify(refusals)}`);
    assert.equal(attempt.events.at(-1)!.outcome, 'ok', 'the connection went on after the refusal');
  }
}
