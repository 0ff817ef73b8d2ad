/**
 * A user's own connection attempts that failed or stalled, newest first, for their "My apps"
 * page: what app, when, and why in plain words. Filtered by their account id at the source, so
 * no other user's attempt (nor one from before anybody signed in) can reach the page.
 */
import type { ConnectionLog } from '../../../shared/connection-events.ts';
import { describeAttempt, type AttemptRow } from './describe-connections.ts';
import type { TimeFormat } from './time-format.ts';

/** A person reads a handful; the admin pages hold the full history. */
const SHOWN = 10;

export async function ownFailedAttempts(connections: ConnectionLog, accountId: string, time: TimeFormat): Promise<{ attempts: AttemptRow[]; incomplete: boolean }> {
  const [failed, stalled] = await Promise.all([
    connections.list({ accountId, outcome: 'failed', limit: SHOWN }),
    connections.list({ accountId, outcome: 'stalled', limit: SHOWN }),
  ]);
  const attempts = [...failed.attempts, ...stalled.attempts]
    .filter((attempt) => attempt.accountId === accountId)
    .sort((a, b) => b.lastAt - a.lastAt)
    .slice(0, SHOWN);
  return {
    attempts: attempts.map((attempt) => describeAttempt(attempt, time)),
    // The resource server's refusals (an expired token, …) are missing when its events could not be read.
    incomplete: Boolean(failed.problem ?? stalled.problem),
  };
}
