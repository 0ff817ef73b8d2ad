/**
 * `GET /connections/events`: this server's connection events (apps/shared/connection-events.ts),
 * for the auth-server, which groups them with its own into attempts (its connection log).
 *
 * - Runs behind the same origin guard and bearer check as /mcp and needs `mcp:admin`
 *   (requireScope), exactly as /gateway/servers: client ids, users, addresses and reasons are for
 *   operators only.
 * - Query: `since` and `until` (epoch milliseconds; since inclusive, until exclusive),
 *   `client_id`, `account_id`, `identified` (`true`: only events naming a client or a user;
 *   `false`: only those naming neither), `limit` (1–5000, default 500). Answers the newest `limit` events
 *   of the window, oldest first, as `{ events }`. A bad value or a repeated parameter is 400
 *   `invalid_request` naming it, never a 5xx. Unknown parameters are ignored.
 * - Writes what the recorder has queued before reading, so an event recorded a moment ago is in
 *   the answer.
 * - `Cache-Control: no-store` (RFC 9111 §5.2.2.5): the answer follows a bearer token and changes
 *   with every request.
 */
import type { Context } from 'koa';
import * as z from 'zod';
import type { ConnectionRecorder } from '../../../shared/connection-events.ts';
import type { ConnectionEventStore } from '../../../shared/connections/connection-event-store.ts';

export const CONNECTION_EVENTS_PATH = '/connections/events';

const MAX_LIMIT = 5000;
const epochMs = z.string().regex(/^\d{1,16}$/, { error: 'expected epoch milliseconds' }).transform(Number)
  .refine((value) => Number.isSafeInteger(value), { error: 'expected epoch milliseconds' });
const id = z.string().min(1, { error: 'expected a non-empty value' }).max(512, { error: 'expected at most 512 characters' });
const querySchema = z.object({
  since: epochMs.optional(),
  until: epochMs.optional(),
  client_id: id.optional(),
  account_id: id.optional(),
  identified: z.enum(['true', 'false'], { error: 'expected true or false' }).transform((value) => value === 'true').optional(),
  limit: z.string().regex(/^\d{1,4}$/, { error: `expected a number from 1 to ${MAX_LIMIT}` }).transform(Number)
    .refine((value) => value >= 1 && value <= MAX_LIMIT, { error: `expected a number from 1 to ${MAX_LIMIT}` }).optional(),
});

export function serveConnectionEvents({ store, recorder }: { store: ConnectionEventStore; recorder: ConnectionRecorder }) {
  return async function serveConnectionEventsMiddleware(ctx: Context): Promise<void> {
    ctx.set('Cache-Control', 'no-store');
    const repeated = Object.entries(ctx.query).find(([, value]) => Array.isArray(value));
    const parsed = repeated ? undefined : querySchema.safeParse(ctx.query);
    if (!parsed?.success) {
      const issue = parsed?.error.issues[0];
      ctx.status = 400;
      ctx.body = {
        error: 'invalid_request',
        error_description: repeated ? `${repeated[0]}: given more than once` : `${String(issue?.path[0])}: ${issue?.message}`,
      };
      return;
    }
    const query = parsed.data;
    await recorder.flush();
    const events = await store.read({
      since: query.since, until: query.until, clientId: query.client_id, accountId: query.account_id, identified: query.identified,
      limit: query.limit ?? 500,
    });
    ctx.body = { events };
  };
}
