/**
 * One read of a resource server admin endpoint (GET /gateway/servers, GET /connections/events)
 * with a fresh mcp:admin token (mint-admin-access-token.ts), shared by the admin pages' gateway
 * status and the connection log.
 *
 * - Bounded: the whole exchange (connect, headers, body) within `timeoutMs`, the body read up to
 *   `maxBytes` and no further. Redirects are not followed, so the token goes to the configured
 *   URI only.
 * - The answer comes from another process and is checked (zod) before anything of it is used;
 *   fields this version does not know are dropped.
 * - Every failure is an answer, never a throw: `{ problem }`, in words an operator can act on
 *   (unreachable, timed out, which HTTP status and error code, too large, not what was expected).
 *   The caller shows it; the log gets it at warn.
 */
import * as z from 'zod';
import type { Logger } from '../../../shared/logger.ts';
import { readCappedResponse } from '../../../shared/read-capped-response.ts';
import type { StoredKey } from '../keys/signing-keys.ts';
import { INTERNAL_CLIENT_ID } from '../provider/internal-client.ts';
import { mintAdminAccessToken } from './mint-admin-access-token.ts';

export type AdminEndpointResult<T> = { data: T } | { problem: string };

export interface AdminEndpointOptions<T> {
  /** The endpoint, query included. */
  uri: string;
  issuer: string;
  /** The MCP resource the token is minted for (its `aud`). */
  resource: string;
  /** The provider's current signing key (it changes on rotation). */
  signingKey: () => StoredKey;
  /** Who asks: the token's `sub` and `preferred_username`. */
  caller: { id: string; username: string };
  /** What a 200 answer must be. */
  schema: z.ZodType<T>;
  /** For the words of a problem: what is read ("the MCP servers") and what the answer should be ("a list of MCP servers"). */
  what: string;
  expected: string;
  /** Why the endpoint answered a status, for the statuses an operator can fix. */
  statusHints?: Record<number, string>;
  /** The log message's subject ("gateway status"). */
  logAs: string;
  logger: Logger;
  /** Longest the whole exchange may take, in milliseconds. Default is 3000. */
  timeoutMs?: number;
  /** Largest answer read, in bytes. Default is 1 MiB. */
  maxBytes?: number;
  /** Lifetime of the minted token, in seconds. Default is 60. */
  tokenTtl?: number;
  /** "Now" for the minted token's `iat` and `exp`, epoch ms: the server's clock. Default: Date.now. */
  now?: () => number;
}

/** The admin's own client when no admin is signed in (the CLI, the connection log). */
export const GATEHOUSE_CALLER = { id: INTERNAL_CLIENT_ID, username: INTERNAL_CLIENT_ID };

const errorSchema = z.object({ error: z.string().max(64), error_description: z.string().max(500).optional() });

class TooLargeError extends Error {}

export async function readAdminEndpoint<T>(options: AdminEndpointOptions<T>): Promise<AdminEndpointResult<T>> {
  const { uri, issuer, resource, signingKey, caller, schema, what, expected, statusHints = {}, logAs, logger } = options;
  const timeoutMs = options.timeoutMs ?? 3000;
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const token = await mintAdminAccessToken({
    key: signingKey(), issuer, resource, accountId: caller.id, username: caller.username, clientId: INTERNAL_CLIENT_ID, ttl: options.tokenTtl ?? 60, now: options.now?.(),
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
    const problem = `Gatehouse could not get ${what} from the resource server at ${uri}: ${describeFailure(err, timeoutMs, maxBytes)}.`;
    logger.warn({ uri, problem }, `${logAs} unavailable`);
    return { problem };
  }

  if (status !== 200) {
    const error = errorSchema.safeParse(parseJson(body)).data;
    const detail = error ? ` (${error.error}${error.error_description ? `: ${error.error_description}` : ''})` : '';
    const hint = statusHints[status] ?? (status >= 300 && status < 400 ? 'a redirect, which is not followed' : undefined);
    const problem = `The resource server at ${uri} answered HTTP ${status}${detail}${hint ? `; ${hint}` : ''}.`;
    logger.warn({ uri, status }, `${logAs} refused`);
    return { problem };
  }
  const answer = schema.safeParse(parseJson(body));
  if (!answer.success) {
    logger.warn({ uri }, `${logAs} answer is not ${expected}`);
    return { problem: `The resource server at ${uri} answered with something that is not ${expected}.` };
  }
  return { data: answer.data };
}

/** The body as text, or TooLargeError once it passes `maxBytes` (the rest is never read). */
async function readAtMost(response: Response, maxBytes: number): Promise<string> {
  const body = await readCappedResponse(response, maxBytes);
  if (body === undefined) throw new TooLargeError();
  return body;
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
