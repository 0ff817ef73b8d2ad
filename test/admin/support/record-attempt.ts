/**
 * Records one connection attempt's events through a test auth-server's own recorder, a second
 * apart on the server's TestClock, as the auth-server's steps record them
 * (apps/auth-server/src/connections/), and finds the attempt its connection log groups them into.
 * For the views' tests: the store, the grouping and the names are the server's own.
 */
import assert from 'node:assert/strict';
import type { NewConnectionEvent } from '../../../apps/shared/connection-events.ts';
import type { TestAuthServer } from '../../helpers/start-auth-server.ts';
import type { TestClock } from '../../helpers/test-clock.ts';

/** Returns the attempt's id (its first event's); the clock ends a minute after the last event. */
export async function recordAttempt(server: TestAuthServer, clock: TestClock, events: NewConnectionEvent[]): Promise<string> {
  const firstAt = clock.now();
  for (const event of events) {
    server.auth.connectionRecorder.record(event);
    clock.advance(1);
  }
  clock.advance(60);
  await server.auth.connectionRecorder.flush();
  const { attempts } = await server.auth.connections.list({ limit: 500 });
  // Within the second the first event was recorded in: a clock that runs (TestClock.ahead) moves on meanwhile.
  const attempt = attempts.find((a) => a.startedAt >= firstAt && a.startedAt < firstAt + 1000 && a.clientId === events[0]!.clientId);
  assert.ok(attempt, `no attempt started at ${firstAt} in ${JSON.stringify(attempts)}`);
  return attempt.id;
}
