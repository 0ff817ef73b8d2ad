/**
 * The auth-server's real authorization, token and registration endpoints, read from its
 * Authorization Server Metadata (RFC 8414 §3), for redirecting clients that guessed them on the
 * resource server's origin (redirect-to-authorization-server.ts).
 *
 * - Fetched when first needed, not at start: a resource server must start (and serve tokens)
 *   while its auth-server is still starting, and most deployments never see a guessed path.
 * - Fetched from `metadataUri`, which follows an internal `JWKS_URI` (config:
 *   authorizationServerMetadataUri), while the endpoints it names are the public ones.
 * - RFC 8414 §3.3: the document's `issuer` must be the configured issuer, or it is not used.
 * - A success is kept for `cacheMs`. A failure is kept for `retryAfterMs`, and requests arriving
 *   while a fetch is under way share it: a burst of guessed requests while the auth-server is down
 *   costs it one fetch, not one each.
 * - Deliberately not checked: that the endpoints are on the issuer's origin (RFC 8414 lets them
 *   be anywhere; the issuer check already says whose document it is).
 */
import { systemClock, type Clock } from '../../../shared/clock.ts';

export interface AuthorizationServerEndpoints {
  authorization_endpoint: string;
  token_endpoint: string;
  /** Absent when the auth-server does not offer Dynamic Client Registration. */
  registration_endpoint?: string;
}

export interface AuthorizationServerEndpointsOptions {
  metadataUri: string;
  issuer: string;
  /** Timeout for one fetch, in milliseconds. Default is 3000. */
  timeoutMs?: number;
  /** How long a fetched document is used before fetching again, in milliseconds. Default is 300000 (5 minutes). */
  cacheMs?: number;
  /** How long a failed fetch is answered from memory before trying again, in milliseconds. Default is 5000. */
  retryAfterMs?: number;
  /** What `cacheMs` is counted on. Default is systemClock. */
  clock?: Clock;
}

/** Resolves to the endpoints, or rejects when the metadata cannot be fetched or is not the issuer's. */
export type ReadAuthorizationServerEndpoints = () => Promise<AuthorizationServerEndpoints>;

const isHttpUrl = (value: unknown): value is string => typeof value === 'string' && /^https?:$/.test(URL.parse(value)?.protocol ?? '');

export function authorizationServerEndpoints({
  metadataUri, issuer, timeoutMs = 3000, cacheMs = 300_000, retryAfterMs = 5000, clock = systemClock,
}: AuthorizationServerEndpointsOptions): ReadAuthorizationServerEndpoints {
  let cached: { endpoints: AuthorizationServerEndpoints; until: number } | undefined;
  let failed: { error: unknown; until: number } | undefined;
  let inFlight: Promise<AuthorizationServerEndpoints> | undefined;

  async function fetchEndpoints(): Promise<AuthorizationServerEndpoints> {
    const response = await fetch(metadataUri, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`the authorization server metadata answered ${response.status}`);
    const metadata = await response.json() as Record<string, unknown>;
    if (metadata.issuer !== issuer) throw new Error('the authorization server metadata names another issuer (RFC 8414 §3.3)');
    const { authorization_endpoint, token_endpoint, registration_endpoint } = metadata;
    if (!isHttpUrl(authorization_endpoint) || !isHttpUrl(token_endpoint)) throw new Error('the authorization server metadata lacks its endpoints');
    return { authorization_endpoint, token_endpoint, ...(isHttpUrl(registration_endpoint) ? { registration_endpoint } : {}) };
  }

  return async function readAuthorizationServerEndpoints() {
    if (cached && clock.now() < cached.until) return cached.endpoints;
    if (failed && clock.now() < failed.until) throw failed.error;
    inFlight ??= fetchEndpoints().then(
      (endpoints) => {
        cached = { endpoints, until: clock.now() + cacheMs };
        failed = undefined;
        return endpoints;
      },
      (error: unknown) => {
        failed = { error, until: clock.now() + retryAfterMs };
        throw error;
      },
    ).finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}
