/**
 * The readiness check for the issuer's key set: can this server fetch a JWKS with at least one
 * key from `jwksUri` right now?
 *
 * - Each fetch is bounded by `timeoutMs`; a 2xx whose body is a JWKS (`keys`, non-empty) passes.
 * - A success is remembered for `cacheMs` and a failure for `FAILURE_CACHE_MS`, and callers that
 *   arrive while a fetch is under way wait for that one: /readyz is public, on the same port as
 *   /mcp, so neither probes every few seconds from an orchestrator nor a flood of anonymous
 *   requests becomes a steady load on the auth-server, up or down.
 * - This does not check that the keys verify anything: token verification keeps its own cached
 *   key set (verify-access-token.ts) and reports what it cannot verify itself.
 */
import { systemClock, type Clock } from '../../../shared/clock.ts';

/**
 * How long a failed fetch stands, in milliseconds. Orchestrators probe readiness every few
 * seconds, and a 503 tells them to come back in 5 (say-when-to-retry.ts): at that pace each probe
 * still sees a recovering auth-server, while any number of requests in between costs one fetch.
 */
export const FAILURE_CACHE_MS = 5000;

export interface JwksProbeOptions {
  jwksUri: string;
  /** Timeout for one fetch, in milliseconds. Default is 2000. */
  timeoutMs?: number;
  /** How long a success is trusted before fetching again, in milliseconds. Default is 10000. */
  cacheMs?: number;
  /** What `cacheMs` and `FAILURE_CACHE_MS` are counted on. Default is systemClock. */
  clock?: Clock;
}

export function createJwksProbe({ jwksUri, timeoutMs = 2000, cacheMs = 10_000, clock = systemClock }: JwksProbeOptions): () => Promise<void> {
  let okUntil = Number.NEGATIVE_INFINITY;
  let failure: { error: unknown; until: number } | undefined;
  let inFlight: Promise<void> | undefined;

  const where = shownUri(jwksUri);

  async function fetchKeySet(): Promise<void> {
    let response: Response;
    try {
      response = await fetch(jwksUri, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    } catch (err) {
      // fetch says only "fetch failed"; what failed (ECONNREFUSED, ENOTFOUND, a TLS error) is its
      // cause, which the readiness log line reports (shared/health-routes.ts). Never the error
      // itself: a URL fetch refuses (user info) is quoted whole in its message.
      if ((err as Error).name === 'TimeoutError') throw new Error(`the JWKS at ${where} did not answer within ${timeoutMs} ms`);
      const cause = (err as Error).cause;
      throw new Error(`the JWKS at ${where} could not be fetched`, cause === undefined ? undefined : { cause });
    }
    if (!response.ok) throw new Error(`the JWKS at ${where} answered ${response.status}`);
    const body = await response.json() as { keys?: unknown };
    if (!Array.isArray(body.keys) || body.keys.length === 0) throw new Error(`the JWKS at ${where} holds no keys`);
  }

  return async function probeJwks(): Promise<void> {
    const now = clock.now();
    if (now < okUntil) return;
    if (failure && now < failure.until) throw failure.error;
    inFlight ??= fetchKeySet()
      .then(
        () => {
          okUntil = clock.now() + cacheMs;
          failure = undefined;
        },
        (error: unknown) => {
          failure = { error, until: clock.now() + FAILURE_CACHE_MS };
          throw error;
        },
      )
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}

/** The key set's URL as a log line shows it: without user info, query or fragment, where a secret could sit. */
function shownUri(uri: string): string {
  const url = URL.parse(uri);
  if (!url) return 'the configured URL';
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  return url.href;
}
