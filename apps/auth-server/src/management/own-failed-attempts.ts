/**
 * A user's own connection attempts that failed or stalled, newest first, for their "My apps"
 * page: what app, when, and why in plain words. Filtered by their account id at the source, so
 * no other user's attempt (nor one from before anybody signed in) can reach the page; and only
 * attempts where the user took part (`accountProven`): a stranger who types the user's username
 * with a wrong password, through a client they registered under a name of their choosing, must
 * not put that name on the user's page as the user's own app. Nor can a link the user opens while
 * signed in: /authorize names the browser's session but proves nothing (group-connection-attempts.ts),
 * and a client_id nobody registered is never shown as an app, whatever text it holds.
 */
import type { ConnectionLog } from '../../../shared/connection-events.ts';
import { describeAttempt, type AttemptRow } from './describe-connections.ts';
import type { TimeFormat } from './time-format.ts';

/** A person reads a handful; the admin pages hold the full history. */
const SHOWN = 10;
/**
 * The user's attempts read to find those: one read (each read fetches the resource server's
 * events), wide enough that a run of working connections does not hide an older failure.
 */
const READ = 200;

export async function ownFailedAttempts(connections: ConnectionLog, accountId: string, time: TimeFormat): Promise<{ attempts: AttemptRow[]; incomplete: boolean }> {
  const { attempts, problem } = await connections.list({ accountId, limit: READ });
  const failed = attempts
    .filter((attempt) => attempt.accountId === accountId && attempt.accountProven === true && attempt.clientId !== undefined
      && (attempt.outcome === 'failed' || attempt.outcome === 'stalled'))
    .slice(0, SHOWN);
  return {
    attempts: failed.map((attempt) => describeAttempt(attempt, time)),
    // The resource server's refusals (an expired token, …) are missing when its events could not be read.
    incomplete: Boolean(problem),
  };
}
