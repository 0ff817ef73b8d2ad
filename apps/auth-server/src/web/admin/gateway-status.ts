/**
 * What the admin pages know about the MCP servers behind the gateway: they live in the resource
 * server's process, so each page view asks its `GET /gateway/servers` (configured as
 * `auth_server.gateway_status_uri`) with a fresh mcp:admin token minted for the signed-in admin
 * (mint-admin-access-token.ts).
 *
 * - Bounded: the whole exchange (connect, headers, body) within `timeoutMs`, the body read up to
 *   `maxBytes` and no further. Redirects are not followed, so the token goes to the configured
 *   URI only.
 * - The answer comes from another process and is checked (zod) before anything of it is shown;
 *   fields this version does not know are dropped.
 * - Every failure is an answer, never a throw: `{ problem }`, in words an operator can act on
 *   (unreachable, timed out, which HTTP status and error code, too large, not a server list).
 *   The page shows it; the log gets it at warn.
 * - Deliberately not here: caching. Each view reads the current state, and the admin pages are
 *   not a hot path.
 */
import * as z from 'zod';
import type { Logger } from '../../../../shared/logger.ts';
import type { StoredKey } from '../../keys/signing-keys.ts';
import { INTERNAL_CLIENT_ID } from '../../provider/internal-client.ts';
import { mintAdminAccessToken } from './mint-admin-access-token.ts';

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
});
const answerSchema = z.object({ servers: z.array(serverSchema) });
const errorSchema = z.object({ error: z.string().max(64), error_description: z.string().max(500).optional() });

/** Why the status URI answered what it did, for the statuses an operator can fix. */
const STATUS_HINTS: Record<number, string> = {
  401: 'it did not accept this server\'s token: check that its issuer and resource match this server\'s',
  403: 'the token was refused',
  404: 'there is no gateway there: check auth_server.gateway_status_uri, and that the resource server runs this version',
};

class TooLargeError extends Error {}

export class GatewayStatus {
  readonly #options: Required<GatewayStatusOptions>;

  constructor(options: GatewayStatusOptions) {
    this.#options = { timeoutMs: 3000, maxBytes: 1024 * 1024, tokenTtl: 60, ...options };
  }

  /** The gateway's servers as the resource server sees them now, or why they cannot be shown. */
  async read(admin: { id: string; username: string }): Promise<GatewayStatusResult> {
    const { uri, issuer, resource, signingKey, logger, timeoutMs, maxBytes, tokenTtl } = this.#options;
    const token = await mintAdminAccessToken({
      key: signingKey(), issuer, resource, accountId: admin.id, username: admin.username, clientId: INTERNAL_CLIENT_ID, ttl: tokenTtl,
    });
    let status: number;
    let body: string;
    try {
      const response = await fetch(uri, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.status;
      body = await readAtMost(response, maxBytes);
    } catch (err) {
      const problem = `Gatehouse could not get the MCP servers from the resource server at ${uri}: ${describeFailure(err, timeoutMs, maxBytes)}.`;
      logger.warn({ uri, problem }, 'gateway status unavailable');
      return { problem };
    }

    if (status !== 200) {
      const error = errorSchema.safeParse(parseJson(body)).data;
      const detail = error ? ` (${error.error}${error.error_description ? `: ${error.error_description}` : ''})` : '';
      const hint = STATUS_HINTS[status] ?? (status >= 300 && status < 400 ? 'a redirect, which is not followed' : undefined);
      const problem = `The resource server at ${uri} answered HTTP ${status}${detail}${hint ? `; ${hint}` : ''}.`;
      logger.warn({ uri, status }, 'gateway status refused');
      return { problem };
    }
    const answer = answerSchema.safeParse(parseJson(body));
    if (!answer.success) {
      logger.warn({ uri }, 'gateway status answer is not a server list');
      return { problem: `The resource server at ${uri} answered with something that is not a list of MCP servers.` };
    }
    return { servers: answer.data.servers };
  }
}

/** The body as text, or TooLargeError once it passes `maxBytes` (the rest is never read). */
async function readAtMost(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new TooLargeError();
  }
  const chunks: Uint8Array[] = [];
  let received = 0;
  const reader = response.body?.getReader();
  for (let read = await reader?.read(); reader && read && !read.done; read = await reader.read()) {
    received += read.value.length;
    if (received > maxBytes) {
      await reader.cancel();
      throw new TooLargeError();
    }
    chunks.push(read.value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A fetch failure in words: the timeout, the size cap, or the socket error's code. */
function describeFailure(err: unknown, timeoutMs: number, maxBytes: number): string {
  if (err instanceof TooLargeError) return `it answered with more than ${maxBytes} bytes`;
  const name = (err as Error).name;
  if (name === 'TimeoutError' || name === 'AbortError') return `it did not answer within ${timeoutMs / 1000} seconds`;
  // undici wraps the socket error: "fetch failed" with the cause (ECONNREFUSED, ENOTFOUND, …).
  let cause: unknown = err;
  while ((cause as { cause?: unknown }).cause) cause = (cause as { cause: unknown }).cause;
  const code = (cause as { code?: unknown }).code;
  const CODES: Record<string, string> = {
    ECONNREFUSED: 'the connection was refused (is it running?)',
    ENOTFOUND: 'its host name does not resolve',
    EAI_AGAIN: 'its host name does not resolve',
    ECONNRESET: 'the connection was reset',
    EHOSTUNREACH: 'its host is unreachable',
  };
  if (typeof code === 'string') return CODES[code] ?? `the connection failed (${code})`;
  return 'the connection failed';
}
