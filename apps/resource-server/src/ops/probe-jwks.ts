/**
 * The readiness check for the issuer's key set: can this server fetch a JWKS with at least one
 * key from `jwksUri` right now?
 *
 * - Each fetch is bounded by `timeoutMs`; a 2xx whose body is a JWKS (`keys`, non-empty) passes.
 * - A success is remembered for `cacheMs`, so probes every few seconds from an orchestrator do
 *   not become a steady load on the auth-server. A failure is not remembered: the next probe
 *   tries again, so readiness comes back as soon as the issuer does.
 * - This does not check that the keys verify anything: token verification keeps its own cached
 *   key set (verify-access-token.ts) and reports what it cannot verify itself.
 */
import { systemClock, type Clock } from '../../../shared/clock.ts';

export interface JwksProbeOptions {
  jwksUri: string;
  /** Timeout for one fetch, in milliseconds. Default is 2000. */
  timeoutMs?: number;
  /** How long a success is trusted before fetching again, in milliseconds. Default is 10000. */
  cacheMs?: number;
  /** What `cacheMs` is counted on. Default is systemClock. */
  clock?: Clock;
}

export function createJwksProbe({ jwksUri, timeoutMs = 2000, cacheMs = 10_000, clock = systemClock }: JwksProbeOptions): () => Promise<void> {
  let okUntil = Number.NEGATIVE_INFINITY;
  return async function probeJwks(): Promise<void> {
    if (clock.now() < okUntil) return;
    const response = await fetch(jwksUri, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`the JWKS answered ${response.status}`);
    const body = await response.json() as { keys?: unknown };
    if (!Array.isArray(body.keys) || body.keys.length === 0) throw new Error('the JWKS holds no keys');
    okUntil = clock.now() + cacheMs;
  };
}
