/**
 * What the admin pages know about the MCP servers behind the gateway: they live in the resource
 * server's process, so each page view asks its `GET /gateway/servers` (configured as
 * `auth_server.gateway_status_uri`) with a fresh mcp:admin token minted for the signed-in admin.
 * The read is bounded, checked and turns every failure into a problem in words
 * (admin-reads/read-admin-endpoint.ts).
 *
 * - Deliberately not here: caching. Each view reads the current state, and the admin pages are
 *   not a hot path.
 */
import * as z from 'zod';
import type { Logger } from '../../../../shared/logger.ts';
import { readAdminEndpoint } from '../../admin-reads/read-admin-endpoint.ts';
import type { StoredKey } from '../../keys/signing-keys.ts';

/** One MCP server as the resource server describes it. */
export type GatewayServer = z.infer<typeof serverSchema>;

export type GatewayStatusResult = { servers: GatewayServer[] } | { problem: string };

export interface GatewayStatusOptions {
  /** The resource server's GET /gateway/servers. */
  uri: string;
  issuer: string;
  /** The MCP resource the token is minted for (its `aud`). */
  resource: string;
  /** The provider's current signing key (it changes on rotation). */
  signingKey: () => StoredKey;
  logger: Logger;
  /** Longest the whole exchange may take, in milliseconds. Default is 3000. */
  timeoutMs?: number;
  /** Largest answer read, in bytes. Default is 1 MiB. */
  maxBytes?: number;
  /** Lifetime of the minted token, in seconds. Default is 60. */
  tokenTtl?: number;
  /** "Now" for the minted token, epoch ms: the server's clock. Default: Date.now. */
  now?: () => number;
}

const scope = z.string().max(64);
const serverSchema = z.object({
  name: z.string().max(64),
  transport: z.enum(['stdio', 'http']),
  perUser: z.boolean(),
  state: z.enum(['starting', 'ready', 'down', 'idle']),
  reason: z.string().max(2000).optional(),
  processes: z.number().int().min(0).optional(),
  scopes: z.object({ default: scope, tools: z.record(z.string().max(256), scope) }),
  tools: z.array(z.object({ name: z.string().max(256), scope })).optional(),
  moreTools: z.number().int().min(0).optional(),
});
const answerSchema = z.object({ servers: z.array(serverSchema) });

/** Why the status URI answered what it did, for the statuses an operator can fix. */
const STATUS_HINTS: Record<number, string> = {
  401: 'it did not accept this server\'s token: check that its issuer and resource match this server\'s',
  403: 'the token was refused',
  404: 'there is no gateway there: check auth_server.gateway_status_uri, and that the resource server runs this version',
};

export class GatewayStatus {
  readonly #options: GatewayStatusOptions;

  constructor(options: GatewayStatusOptions) {
    this.#options = options;
  }

  /** The gateway's servers as the resource server sees them now, or why they cannot be shown. */
  async read(admin: { id: string; username: string }): Promise<GatewayStatusResult> {
    const result = await readAdminEndpoint({
      ...this.#options,
      caller: admin,
      schema: answerSchema,
      what: 'the MCP servers',
      expected: 'a list of MCP servers',
      statusHints: STATUS_HINTS,
      logAs: 'gateway status',
    });
    return 'problem' in result ? result : { servers: result.data.servers };
  }
}
