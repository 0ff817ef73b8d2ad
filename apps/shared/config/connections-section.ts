/**
 * `connections`: how long and how much of the connection flight recorder both apps keep, and
 * when a quiet attempt counts as stalled (apps/shared/connection-events.ts). A shared section:
 * each app prunes its own table with the same bounds.
 */
import * as z from 'zod';
import { duration, type FieldNote } from './field-schemas.ts';

export const connectionsSection = z.strictObject({
  retention: duration.default(7 * 86400)
    .meta({ description: 'connection events older than this are deleted by each app\'s sweeper', env: 'CONNECTIONS_RETENTION' } satisfies FieldNote),
  // So a flood of failing clients cannot fill the disk.
  max_events: z.coerce.number().int().min(1000, { error: 'expected at least 1000 events' }).max(100_000_000, { error: 'expected at most 100000000 events' }).default(100_000)
    .meta({ description: 'and the oldest beyond this many, in each app', env: 'CONNECTIONS_MAX_EVENTS' } satisfies FieldNote),
  stall_after: duration.default(600)
    .meta({ description: 'an attempt with no event for this long, and not connected or failed, is shown as stalled', env: 'CONNECTIONS_STALL_AFTER' } satisfies FieldNote),
}).prefault({})
  .meta({ description: 'the connection flight recorder (admin page "Connections"): what both apps keep of clients connecting' } satisfies FieldNote);

/** In the shape the code uses: seconds and a count. */
export function toConnectionsConfig(c: z.output<typeof connectionsSection>) {
  return { retention: c.retention, maxEvents: c.max_events, stallAfter: c.stall_after };
}

export type ConnectionsConfig = ReturnType<typeof toConnectionsConfig>;
