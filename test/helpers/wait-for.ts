/**
 * Waiting for an event a test cannot be told about directly (a log line landed, a process noticed
 * a change, a poll ran): poll for it, bounded, instead of sleeping a fixed time. A fixed sleep is
 * too short on a loaded machine and too long on an idle one; this returns as soon as the event
 * happened and fails with what was awaited when it does not.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `probe` until it returns a truthy value (returned), failing after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(intervalMs);
  }
}
