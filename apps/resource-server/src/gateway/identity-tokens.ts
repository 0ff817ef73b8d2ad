/**
 * Identity tokens for upstream MCP servers with `forward_identity: true`: the gateway sends
 * `Authorization: Bearer <identity token>`, never the caller's own access token (MCP security best
 * practices, "Token Passthrough"). The token comes from the auth-server by RFC 8693 token exchange:
 * the caller's token as `subject_token`, the upstream's URL as `resource` (RFC 8707), the scopes
 * the upstream may see as `scope`; the auth-server answers with an `at+jwt` for that audience,
 * living at most five minutes (apps/auth-server/src/token-exchange/token-exchange-grant.ts).
 *
 * - Client authentication is `client_secret_basic` (RFC 6749 §2.3.1) with the identity client
 *   an administrator registered as this resource's server.
 * - Cached per (caller token, audience, scopes) until REFRESH_MARGIN seconds before the identity
 *   token expires, in a bounded LRU keyed by a SHA-256 of the three (the map holds no caller
 *   token). Concurrent requests for one key share one exchange; each caller's `signal` stops only
 *   its own wait.
 * - Every exchange is bounded: `timeout` for the whole request, MAX_RESPONSE_BYTES of response.
 * - Failures throw an Error whose message names the audience and the auth-server's `error` and
 *   `error_description` (RFC 6749 §5.2), or why it could not be asked; it never carries the
 *   caller's token, the identity token or the client secret. Failures are not cached.
 *
 * Deliberately not done: verifying the identity token (the upstream does that against the JWKS;
 * this module only carries it), and deciding which scopes an upstream may see (the gateway does).
 */
import { createHash } from 'node:crypto';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import { TokenCache } from '../auth/token-cache.ts';
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';
import { cutText } from '../../../shared/cut-text.ts';
import { readCappedResponse } from '../../../shared/read-capped-response.ts';
import { redactText } from './redact-credentials.ts';

export interface IdentityTokens {
  /** A bearer token naming `caller` for the upstream at `audience`, carrying `scopes` (at least one). */
  tokenFor(caller: VerifiedAccessToken, audience: string, scopes: readonly string[], signal?: AbortSignal): Promise<string>;
}

export interface IdentityTokensOptions {
  /** The auth-server's token endpoint (absolute http(s) URL). */
  tokenEndpoint: string;
  clientId: string;
  clientSecret: string;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Cached tokens expire on it. Default is systemClock. */
  clock?: Clock;
  /** Most identity tokens kept. Default is 10 000. */
  maxEntries?: number;
  /** Milliseconds one exchange may take, response included. Default is 10 000. */
  timeout?: number;
}

const GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** Seconds before its `exp` an identity token stops being handed out (it must still live while the upstream checks it). */
export const REFRESH_MARGIN = 30;
/** Bytes of token endpoint response read at most: a token response is far smaller. */
export const MAX_RESPONSE_BYTES = 64 * 1024;
const MAX_DESCRIPTION = 300;

interface Cached {
  token: string;
  /** Epoch seconds after which it is no longer handed out. */
  expiresAt: number;
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded. */
function basicCredentials(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

function parseJson(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Waits for `promise`, or rejects as soon as `signal` aborts (the shared exchange goes on for the others). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export function createIdentityTokens(options: IdentityTokensOptions): IdentityTokens {
  const endpoint = URL.parse(options.tokenEndpoint);
  if (!endpoint || (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:')) throw new TypeError('tokenEndpoint must be an absolute http(s) URL');
  if (!options.clientId || !options.clientSecret) throw new TypeError('clientId and clientSecret must not be empty');
  const fetchImpl = options.fetch ?? fetch;
  const clock = options.clock ?? systemClock;
  const timeout = options.timeout ?? 10_000;
  const cache = new TokenCache<Cached>(options.maxEntries ?? 10_000);
  const inFlight = new Map<string, Promise<string>>();
  const authorization = basicCredentials(options.clientId, options.clientSecret);

  /**
   * `text` with anything secret cut out in case the auth-server echoed it: the client secret, as
   * sent too (the base64 of the Authorization header), and `secrets`. Run before a text is cut
   * short: a cut inside a secret would leave its first part.
   */
  const redact = (text: string, secrets: string[]): string =>
    redactText(text, [options.clientSecret, authorization.slice('Basic '.length), ...secrets].filter(Boolean));
  /** The message of a failure, redacted. */
  const failure = (audience: string, reason: string, secrets: string[]): Error => new Error(redact(`identity token for ${audience}: ${reason}`, secrets));

  async function exchange(caller: VerifiedAccessToken, audience: string, scope: string): Promise<Cached> {
    const body = new URLSearchParams({
      grant_type: GRANT_TYPE,
      subject_token: caller.token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: ACCESS_TOKEN_TYPE,
      resource: audience,
      scope,
    });
    let response: Response;
    let text: string | undefined;
    try {
      response = await fetchImpl(endpoint!, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(timeout),
      });
      text = await readCappedResponse(response, MAX_RESPONSE_BYTES);
    } catch (err) {
      const error = err as Error & { cause?: { code?: string } };
      const reason = error.name === 'TimeoutError' ? `the auth-server did not answer within ${timeout} ms` : `the auth-server could not be reached (${error.cause?.code ?? error.message})`;
      throw failure(audience, reason, [caller.token]);
    }
    const json = parseJson(text);
    if (!response.ok) {
      const code = typeof json?.error === 'string' ? cutText(json.error, 64) : undefined;
      if (!code) throw failure(audience, `the auth-server answered ${response.status}`, [caller.token]);
      const description = typeof json!.error_description === 'string' ? `: ${cutText(redact(json!.error_description, [caller.token]), MAX_DESCRIPTION)}` : '';
      throw failure(audience, `the auth-server refused: ${code}${description}`, [caller.token]);
    }
    const token = json?.access_token;
    const expiresIn = json?.expires_in;
    if (typeof token !== 'string' || !token || String(json!.token_type).toLowerCase() !== 'bearer'
      || json!.issued_token_type !== ACCESS_TOKEN_TYPE || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
      throw failure(audience, 'the auth-server answered something that is not a token exchange response (RFC 8693 §2.2.1)', [caller.token, String(token)]);
    }
    // Never past the caller's own token: the identity token stands for it.
    const expiresAt = Math.min(clock.epochSeconds() + expiresIn, caller.expiresAt) - REFRESH_MARGIN;
    return { token, expiresAt };
  }

  return {
    tokenFor(caller, audience, scopes, signal) {
      const wanted = [...new Set(scopes)].sort();
      if (wanted.length === 0) return Promise.reject(new TypeError('an identity token carries at least one scope'));
      const scope = wanted.join(' ');
      const key = createHash('sha256').update(`${caller.token}\n${audience}\n${scope}`).digest('base64url');
      const cached = cache.get(key, clock.epochSeconds());
      if (cached) return Promise.resolve(cached.token);
      let pending = inFlight.get(key);
      if (!pending) {
        pending = exchange(caller, audience, scope).then((result) => {
          cache.set(key, result);
          return result.token;
        }).finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
      }
      return untilAborted(pending, signal);
    },
  };
}
