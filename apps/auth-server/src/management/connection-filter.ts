/**
 * The filter of a connection attempt list as a person gives it (the admin page's query string,
 * `gatehouse connections list`'s flags), checked and turned into the ConnectionLog's filter.
 *
 * - `outcome` must be one of the outcomes, `limit` a whole number from 1 to 500: a typo is an
 *   error naming the field, never an empty list that reads as "nothing went wrong".
 * - `user` is a username (or user id) that must exist: attempts are recorded by account id.
 * - `client` is taken as given (bounded in length): a client that failed as `unknown_client`
 *   is in no clients table, and finding its attempts is the point.
 */
import { ATTEMPT_OUTCOMES, type AttemptOutcome, type ConnectionFilter } from '../../../shared/connection-events.ts';
import { AdminError } from './admin-error.ts';
import { cutInput } from './cut-input.ts';
import type { UserAdmin } from './user-admin.ts';

export interface ConnectionFilterInput {
  client?: string;
  user?: string;
  outcome?: string;
  limit?: string;
}

/** The ConnectionLog's own bound (connection-events.ts). */
export const MAX_ATTEMPTS = 500;
/** Longer than any client id this server issues or accepts as a metadata document URL. */
const MAX_CLIENT_ID_LENGTH = 2048;
/** Longer than any username (apps/shared/username.ts: at most 64) or user id. */
const MAX_USERNAME_LENGTH = 256;

export function isAttemptOutcome(value: string): value is AttemptOutcome {
  return (ATTEMPT_OUTCOMES as readonly string[]).includes(value);
}

export function parseAttemptLimit(value: string): number | undefined {
  const limit = Number(value);
  return /^\d+$/.test(value) && limit >= 1 && limit <= MAX_ATTEMPTS ? limit : undefined;
}

export async function resolveConnectionFilter(users: Pick<UserAdmin, 'get'>, input: ConnectionFilterInput): Promise<ConnectionFilter> {
  const filter: ConnectionFilter = {};
  if (input.outcome) {
    if (!isAttemptOutcome(input.outcome)) {
      throw new AdminError(400, `Outcome must be one of ${ATTEMPT_OUTCOMES.join(', ')}, not ${JSON.stringify(cutInput(input.outcome))}.`, 'outcome');
    }
    filter.outcome = input.outcome;
  }
  if (input.limit) {
    filter.limit = parseAttemptLimit(input.limit);
    if (filter.limit === undefined) throw new AdminError(400, `Limit must be a whole number from 1 to ${MAX_ATTEMPTS}, not ${JSON.stringify(cutInput(input.limit))}.`, 'limit');
  }
  if (input.client) {
    if (input.client.length > MAX_CLIENT_ID_LENGTH) throw new AdminError(400, `A client id has at most ${MAX_CLIENT_ID_LENGTH} characters.`, 'client');
    filter.clientId = input.client;
  }
  if (input.user) {
    if (input.user.length > MAX_USERNAME_LENGTH) throw new AdminError(400, `A username has at most ${MAX_USERNAME_LENGTH} characters.`, 'user');
    try {
      filter.accountId = (await users.get(input.user)).id;
    } catch (err) {
      // A filter naming nobody is a wrong request (400 by the field), not a missing page.
      if (err instanceof AdminError && err.status === 404) throw new AdminError(400, `There is no user ${input.user}.`, 'user');
      throw err;
    }
  }
  return filter;
}
