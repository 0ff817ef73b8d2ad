/**
 * The sweeper task that keeps an app's connection events bounded (`connections.retention` and
 * `connections.max_events`): the auth-server runs it with its other clean-up tasks every minute,
 * the resource server with its audit sweep. Every replica may run it: each run deletes only rows
 * already past a bound.
 */
import type { Clock } from '../clock.ts';
import type { ConnectionsConfig } from '../config/connections-section.ts';
import type { ConnectionEventStore } from './connection-event-store.ts';

/** Returns the task: it deletes what is past either bound and resolves to how many rows went. */
export function pruneConnectionEvents(store: ConnectionEventStore, bounds: Pick<ConnectionsConfig, 'retention' | 'maxEvents'>, clock: Clock): () => Promise<number> {
  return function pruneConnectionEventsTask() {
    return store.prune({ olderThan: clock.now() - bounds.retention * 1000, maxEvents: bounds.maxEvents });
  };
}
