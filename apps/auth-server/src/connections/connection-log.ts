/**
 * The read side of the connection flight recorder (`ConnectionLog`): the admin pages, "My apps"
 * and `gatehouse connections` read attempts through this and nothing else.
 *
 * Each read takes the newest events of both apps within `connections.retention` (this server's
 * table, and the resource server's over GET /connections/events), groups them into attempts
 * (group-connection-attempts.ts), filters, and names the clients and users of the page in one
 * query each. Nothing is kept between reads: a page view is not a hot path, and every replica
 * answers the same from the shared tables.
 *
 * - Bounded: at most READ_LIMIT events naming a client or a user, and ANONYMOUS_READ_LIMIT
 *   naming neither (metadata fetches, challenges), from each app per read (the newest); older
 *   attempts are shown once newer events are pruned. Read apart, so anonymous requests, which
 *   anyone can send by the thousand, cannot push real clients' attempts out of the read: 5,000
 *   GETs of a well-known path hid every earlier attempt from the pages and "My apps". The
 *   resource server's read is bounded in time and size.
 * - The events of a client_id no client had (`clientUnknown`, set-apart-unknown-clients.ts) are
 *   read apart too, at most UNKNOWN_CLIENT_READ_LIMIT: anyone can send token requests naming
 *   made-up client_ids, and 5,000 of them hid every registered client's attempt. In their own
 *   window they evict neither those nor the anonymous steps. Every read (a list, filtered or
 *   not, and `show`) reads the same windows, so `show` opens any attempt a list gave.
 * - The resource server down (or refusing) is not an error: the attempts come from this server's
 *   events alone, and `problem` says why in words.
 * - Deliberately not here: caching, paging beyond `limit`.
 */
import type { Clock } from '../../../shared/clock.ts';
import type { AuthServerConfig } from '../../../shared/config/load-config.ts';
import type {
  ConnectionAttempt, ConnectionAttemptSummary, ConnectionFilter, ConnectionList, ConnectionLog, ConnectionRecorder,
} from '../../../shared/connection-events.ts';
import { ConnectionEventStore } from '../../../shared/connections/connection-event-store.ts';
import type { Logger } from '../../../shared/logger.ts';
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';
import { UserStore } from '../accounts/user-store.ts';
import type { StoredKey } from '../keys/signing-keys.ts';
import { ModelStore } from '../provider/model-store.ts';
import { groupConnectionAttempts } from './group-connection-attempts.ts';
import { readResourceServerEvents, RESOURCE_SERVER_EVENTS_LIMIT } from './read-resource-server-events.ts';

/** Events naming a client or a user read at most per request from each app. */
const READ_LIMIT = RESOURCE_SERVER_EVENTS_LIMIT;
/** Events naming neither read at most per request from each app. */
const ANONYMOUS_READ_LIMIT = 1000;
/** Events of a client_id no client had read at most per request (only this server records them). */
const UNKNOWN_CLIENT_READ_LIMIT = 1000;
const DEFAULT_ATTEMPTS = 50;
const MAX_ATTEMPTS = 500;

export interface ConnectionLogOptions {
  /** The auth-server's database (connection_events, clients, users). */
  database: SqlDatabase;
  config: Pick<AuthServerConfig, 'issuer' | 'resource' | 'connectionEventsUri' | 'connections'>;
  /** The provider's active signing key, for the token the resource server's events are read with. */
  signingKey: () => StoredKey;
  clock: Clock;
  logger: Logger;
  /** This process's recorder: what it has queued is written before each read. Default: none. */
  recorder?: ConnectionRecorder;
  /** Longest the resource server's read may take, in milliseconds. Default is 3000. */
  timeoutMs?: number;
}

/** The connection log over a database and the configuration: the server's, and the CLI's. */
export function createConnectionLog(options: ConnectionLogOptions): ConnectionLog {
  const { database, config, signingKey, clock, logger, recorder, timeoutMs } = options;
  const events = new ConnectionEventStore(database, 'connection_events');
  const models = new ModelStore(database, clock);
  const users = new UserStore(database);

  async function attempts(): Promise<{ attempts: ConnectionAttempt[]; problem?: string }> {
    const now = clock.now();
    const since = now - config.connections.retention * 1000;
    await recorder?.flush();
    const fromResourceServer = (identified: boolean, limit: number) => readResourceServerEvents(
      { uri: config.connectionEventsUri, issuer: config.issuer, resource: config.resource, signingKey, logger, timeoutMs, now: () => clock.now() },
      since, { identified, limit },
    );
    const [own, ownAnonymous, ownUnknownClients, theirs, theirsAnonymous] = await Promise.all([
      events.read({ since, limit: READ_LIMIT, identified: true }),
      events.read({ since, limit: ANONYMOUS_READ_LIMIT, identified: false }),
      events.read({ since, limit: UNKNOWN_CLIENT_READ_LIMIT, clientUnknown: true }),
      fromResourceServer(true, READ_LIMIT),
      fromResourceServer(false, ANONYMOUS_READ_LIMIT),
    ]);
    // A resource server of an earlier version ignores `identified` and answers both reads alike.
    const theirEvents = [...new Map([...theirs.events, ...theirsAnonymous.events].map((event) => [event.id, event])).values()];
    const grouped = groupConnectionAttempts([...own, ...ownAnonymous, ...ownUnknownClients, ...theirEvents], { now, stallAfterMs: config.connections.stallAfter * 1000 });
    const problem = theirs.problem ?? theirsAnonymous.problem;
    return { attempts: grouped, ...(problem ? { problem } : {}) };
  }

  /** Client names and usernames for these attempts: one query each. */
  async function named<T extends ConnectionAttemptSummary>(page: T[]): Promise<T[]> {
    const clientIds = page.flatMap((attempt) => (attempt.clientId ? [attempt.clientId] : []));
    const accountIds = page.flatMap((attempt) => (attempt.accountId ? [attempt.accountId] : []));
    const [clientNames, usernames] = await Promise.all([
      clientIds.length > 0 ? models.clientNames(clientIds) : new Map<string, string>(),
      accountIds.length > 0 ? users.usernames(accountIds) : new Map<string, string>(),
    ]);
    return page.map((attempt) => {
      const clientName = attempt.clientId ? clientNames.get(attempt.clientId) : undefined;
      const username = attempt.accountId ? usernames.get(attempt.accountId) : undefined;
      return { ...attempt, ...(clientName ? { clientName } : {}), ...(username ? { username } : {}) };
    });
  }

  return {
    async list(filter: ConnectionFilter = {}): Promise<ConnectionList> {
      const limit = Math.min(Math.max(1, filter.limit ?? DEFAULT_ATTEMPTS), MAX_ATTEMPTS);
      const { attempts: all, problem } = await attempts();
      const page = all
        .filter((attempt) => (filter.clientId === undefined || attempt.clientId === filter.clientId)
          && (filter.accountId === undefined || attempt.accountId === filter.accountId)
          && (filter.outcome === undefined || attempt.outcome === filter.outcome))
        .slice(0, limit)
        .map(({ events: _events, ...summary }) => summary);
      return { attempts: await named(page), ...(problem ? { problem } : {}) };
    },

    async show(id: string) {
      const { attempts: all, problem } = await attempts();
      const attempt = all.find((candidate) => candidate.id === id);
      if (!attempt) return undefined;
      const [withNames] = await named([attempt]);
      return { attempt: withNames!, ...(problem ? { problem } : {}) };
    },
  };
}
