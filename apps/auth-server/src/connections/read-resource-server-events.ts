/**
 * The resource server's connection events, read from its `GET /connections/events`
 * (`auth_server.connection_events_uri`) with a minted mcp:admin token, bounded and checked
 * (admin-reads/read-admin-endpoint.ts). A failure is a problem in words, and the timelines are
 * shown without the resource server's steps.
 */
import * as z from 'zod';
import { CONNECTION_STEPS, type ConnectionEvent } from '../../../shared/connection-events.ts';
import type { Logger } from '../../../shared/logger.ts';
import { GATEHOUSE_CALLER, readAdminEndpoint } from '../admin-reads/read-admin-endpoint.ts';
import type { StoredKey } from '../keys/signing-keys.ts';

export interface ResourceServerEventsOptions {
  /** The resource server's GET /connections/events. */
  uri: string;
  issuer: string;
  resource: string;
  signingKey: () => StoredKey;
  logger: Logger;
  /** Longest the read may take, in milliseconds. Default is 3000. */
  timeoutMs?: number;
  /** "Now" for the minted token, epoch ms: the auth-server's clock, which the resource server's agrees with. */
  now?: () => number;
}

/** Events read at most (the route's own cap), and the bytes that many may take. */
export const RESOURCE_SERVER_EVENTS_LIMIT = 5000;
const MAX_BYTES = 16 * 1024 * 1024;

const text = (max: number) => z.string().max(max).optional();
const eventSchema = z.object({
  id: z.string().min(1).max(64),
  at: z.number().int().min(0),
  step: z.enum(CONNECTION_STEPS),
  outcome: z.enum(['ok', 'refused']),
  error: text(64),
  reasonCode: text(64),
  reason: text(1000),
  clientId: text(512),
  accountId: text(512),
  flowId: text(64),
  grantId: text(512),
  ip: text(64),
  userAgent: text(256),
  redirectUri: text(2048),
  resource: text(2048),
  scope: text(1000),
});
const answerSchema = z.object({ events: z.array(eventSchema).max(RESOURCE_SERVER_EVENTS_LIMIT) });

const STATUS_HINTS: Record<number, string> = {
  401: 'it did not accept this server\'s token: check that its issuer and resource match this server\'s',
  403: 'the token was refused',
  404: 'there are no connection events there: check auth_server.connection_events_uri, and that the resource server runs this version',
};

/** Which events to read: those naming a client or a user, or those naming neither; how many at most. */
export interface ResourceServerEventsQuery {
  identified: boolean;
  limit: number;
}

export async function readResourceServerEvents(options: ResourceServerEventsOptions, since: number, query: ResourceServerEventsQuery): Promise<{ events: ConnectionEvent[]; problem?: string }> {
  const uri = new URL(options.uri);
  uri.searchParams.set('since', String(since));
  uri.searchParams.set('identified', String(query.identified));
  uri.searchParams.set('limit', String(Math.min(query.limit, RESOURCE_SERVER_EVENTS_LIMIT)));
  const result = await readAdminEndpoint({
    ...options,
    uri: uri.href,
    caller: GATEHOUSE_CALLER,
    schema: answerSchema,
    what: 'its connection events',
    expected: 'a list of connection events',
    statusHints: STATUS_HINTS,
    logAs: 'resource server connection events',
    maxBytes: MAX_BYTES,
  });
  if ('problem' in result) return { events: [], problem: result.problem };
  // Whatever it says, these are the resource server's.
  return { events: result.data.events.map((event) => ({ ...event, app: 'resource-server' as const })) };
}
