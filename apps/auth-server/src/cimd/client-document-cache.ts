/**
 * What Gatehouse remembers of the documents it fetches for clients: Client ID Metadata Documents
 * (draft-ietf-oauth-client-id-metadata-document) and the JWK Sets they name by `jwks_uri`
 * (RFC 7591 §2, for private_key_jwt, RFC 7523 §2.2). It sits in front of the SSRF-guarded fetch
 * and is the `fetch` oidc-provider is given; freshness and staleness are decided here, on our
 * clock, so tests move time instead of waiting.
 *
 * - Fresh: a fetched document is served from memory for its `Cache-Control: max-age` (or
 *   `Expires`), clamped to [cache_min, cache_max], as the CIMD draft lets an authorization server
 *   cache by HTTP caching rules. A JWK Set is kept at most cache_min, so a client's key rotation
 *   reaches us within that time even when its CDN says a day.
 * - Stale but bounded: when a refetch fails (a network error or timeout, a refused address, a
 *   status other than 200, a body that is not a JSON object such as a CDN challenge or an HTML
 *   error page), the last good copy is served for up to max_stale past its freshness, and each
 *   such use is logged at warn (the URL and the reason, never the body). Past max_stale the
 *   failure stands and the client is refused.
 * - A document that fetched fine but is refused by the provider (invalid: a redirect URI we
 *   refuse, a client_id that differs, …) is not a fetch failure. It replaces the last good copy,
 *   which is never used again: a 200 answer with a JSON object is its owner's current word, and
 *   the owner may have changed it to withdraw a redirect URI or a key. Serving the older copy
 *   would keep what was withdrawn alive for max_stale; refusing fails closed. An attacker who
 *   controls the host gains nothing either way: the new document is validated like any other.
 * - Only accepted documents are served from memory: a document becomes servable when the
 *   provider accepted it (`accepted`, called from its allowClient hook); a JWK Set when it has a
 *   `keys` array (RFC 7517 §5). A document the provider refused is fetched again next time, so
 *   its owner's fix is seen at once.
 * - Documents and JWK Sets are remembered apart, told apart by the request, never by the body:
 *   the provider fetches a document without following redirects (`redirect: 'manual'`) and a
 *   `jwks_uri` following them. Kept in one table by URL, a `jwks_uri` that redirected (an open
 *   redirect on a trusted host) to an attacker's body with a `keys` array, a `client_id` equal to
 *   that URL and redirect URIs of their own was served as that URL's client document, trusted
 *   host and all, for up to max_stale.
 * - A failure with no usable copy is remembered for FAILURE_MEMORY_SECONDS, never longer: the
 *   provider looks a client up twice while rendering an error, and a burst of requests for a
 *   broken host must not each wait for its timeout; a host that comes back is used within those
 *   seconds.
 * - The provider is always handed a new 200 response with `Cache-Control: max-age=0`, so its own
 *   cache keeps a document only for its floor, cache_min.
 *
 * Memory is per process and bounded (MAX_ENTRIES per map, oldest dropped first). Replicas fetch
 * on their own: two replicas can serve different versions of a document for up to cache_max (as
 * with the provider's own cache before), and while a host is down one replica may still serve a
 * stale copy (up to max_stale) that another never had and so refuses.
 */
import type { Clock } from '../../../shared/clock.ts';
import type { Logger } from '../../../shared/logger.ts';
import { readCappedResponse } from '../../../shared/read-capped-response.ts';

type Fetch = (url: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface ClientDocumentCacheOptions {
  clock: Clock;
  logger: Logger;
  /** Seconds a document is fresh at least (also the most a JWK Set is). */
  cacheMin: number;
  /** Seconds a document is fresh at most, whatever its Cache-Control says. */
  cacheMax: number;
  /** Seconds past its freshness the last good copy is served while refetches fail. */
  maxStale: number;
}

export interface ClientDocumentCache {
  fetch: Fetch;
  /** The provider accepted the document at `url`: from now on it may be served from memory. */
  accepted(url: string): void;
  /** Whether an accepted document of `url` is remembered (fresh or stale); never fetches. */
  holds(url: string): boolean;
}

/** Seconds a failure (with no usable copy) is answered from memory. */
export const FAILURE_MEMORY_SECONDS = 5;
const MAX_ENTRIES = 1000;
/**
 * Bytes read of a body at most (held per URL, MAX_ENTRIES of them): a client's JWK Set of a few
 * keys fits many times over; the provider caps a document at 5 KiB itself.
 */
const MAX_BODY_BYTES = 16 * 1024;

/** What the provider asked for: a client document, or what a document names (its `jwks_uri`). */
type Kind = 'document' | 'jwks';

/** Of one kind, fetched from one URL: documents and JWK Sets never answer for each other. */
const keyOf = (kind: Kind, url: string) => `${kind} ${url}`;

interface GoodCopy {
  body: string;
  kind: Kind;
  /** Epoch ms, our clock. */
  freshUntil: number;
  servable: boolean;
}

/** Why a fetch gave nothing usable, and how to give the provider the same outcome again. */
interface Failure {
  reason: string;
  until: number;
  replay: () => Promise<Response>;
}

class FetchFailure extends Error {
  constructor(readonly reason: string, readonly replay: () => Promise<Response>) {
    super(reason);
  }
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_ENTRIES) map.delete(map.keys().next().value!);
}

/** Seconds the response may be cached by its headers (RFC 9111 §5.2.2.1 max-age, §5.3 Expires), if it says. */
function declaredMaxAge(response: Response, now: number): number | undefined {
  const maxAge = /(?:^|,)\s*max-age\s*=\s*(\d+)/i.exec(response.headers.get('cache-control') ?? '');
  if (maxAge) return Number(maxAge[1]);
  const expires = Date.parse(response.headers.get('expires') ?? '');
  return Number.isNaN(expires) ? undefined : Math.floor((expires - now) / 1000);
}

async function readCapped(response: Response): Promise<string> {
  const body = await readCappedResponse(response, MAX_BODY_BYTES);
  if (body === undefined) throw new FetchFailure('body too large', () => Promise.reject(new Error('response too large')));
  return body;
}

function describeFailure(err: unknown): string {
  const { name, code } = (err ?? {}) as { name?: string; code?: string };
  if (name === 'TimeoutError' || name === 'AbortError') return 'timeout';
  const cause = (err as { cause?: { code?: string; name?: string } } | undefined)?.cause;
  return cause?.code ?? code ?? cause?.name ?? name ?? 'fetch failed';
}

function jsonResponse(body: string): Response {
  return new Response(body, { status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'max-age=0' } });
}

export function createClientDocumentCache(fetchOnce: Fetch, options: ClientDocumentCacheOptions): ClientDocumentCache {
  const { clock, logger } = options;
  const copies = new Map<string, GoodCopy>();
  const failures = new Map<string, Failure>();
  const inFlight = new Map<string, Promise<GoodCopy>>();

  async function fetchCopy(kind: Kind, url: string, init: RequestInit | undefined): Promise<GoodCopy> {
    let response: Response;
    try {
      response = await fetchOnce(url, init);
    } catch (err) {
      throw new FetchFailure(describeFailure(err), () => Promise.reject(err));
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      const { status } = response;
      throw new FetchFailure(`status ${status}`, () => Promise.resolve(new Response(null, { status })));
    }
    let body: string;
    try {
      body = await readCapped(response);
    } catch (err) {
      if (err instanceof FetchFailure) throw err;
      throw new FetchFailure(describeFailure(err), () => Promise.reject(err));
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new FetchFailure('not a JSON object', () => Promise.resolve(new Response('not a JSON object', { status: 200 })));
    }
    const now = clock.now();
    const declared = declaredMaxAge(response, now) ?? options.cacheMin;
    const seconds = kind === 'jwks' ? options.cacheMin : Math.max(options.cacheMin, Math.min(options.cacheMax, declared));
    const servable = kind === 'jwks' && Array.isArray((parsed as { keys?: unknown }).keys);
    return { body, kind, freshUntil: now + seconds * 1000, servable };
  }

  /** The last good copy while it is within max_stale, else the failure as it happened. */
  function staleOrFailure(key: string, url: string, failure: Failure, logged: boolean): Promise<Response> {
    const copy = copies.get(key);
    const now = clock.now();
    if (copy?.servable && now <= copy.freshUntil + options.maxStale * 1000) {
      if (logged) {
        logger.warn({
          [copy.kind === 'jwks' ? 'jwks_uri' : 'client_id']: url,
          reason: failure.reason,
          staleSeconds: Math.floor((now - copy.freshUntil) / 1000),
        }, 'refetching a client document failed: serving the last good copy');
      }
      return Promise.resolve(jsonResponse(copy.body));
    }
    return failure.replay();
  }

  async function refetch(kind: Kind, url: string, init: RequestInit | undefined): Promise<Response> {
    const key = keyOf(kind, url);
    let pending = inFlight.get(key);
    if (!pending) {
      pending = fetchCopy(kind, url, init);
      inFlight.set(key, pending);
      pending.finally(() => inFlight.delete(key)).catch(() => {});
    }
    try {
      const copy = await pending;
      if (copies.get(key) !== copy) remember(copies, key, copy);
      failures.delete(key);
      return jsonResponse(copy.body);
    } catch (err) {
      if (!(err instanceof FetchFailure)) throw err;
      const failure = { reason: err.reason, until: clock.now() + FAILURE_MEMORY_SECONDS * 1000, replay: err.replay };
      remember(failures, key, failure);
      return staleOrFailure(key, url, failure, true);
    }
  }

  return {
    fetch(url, init) {
      const href = url instanceof Request ? url.url : String(url);
      if ((init?.method ?? 'GET') !== 'GET') return fetchOnce(href, init);
      const kind: Kind = init?.redirect === 'manual' ? 'document' : 'jwks';
      const key = keyOf(kind, href);
      const now = clock.now();
      const copy = copies.get(key);
      if (copy?.servable && now < copy.freshUntil) return Promise.resolve(jsonResponse(copy.body));
      const failure = failures.get(key);
      if (failure && now < failure.until) return staleOrFailure(key, href, failure, false);
      return refetch(kind, href, init);
    },
    accepted(url) {
      const copy = copies.get(keyOf('document', url));
      if (copy) copy.servable = true;
    },
    holds(url) {
      return copies.get(keyOf('document', url))?.servable === true;
    },
  };
}
