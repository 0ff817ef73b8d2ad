/**
 * The `fetch` oidc-provider uses for Client ID Metadata Documents. The provider already refuses
 * redirects, caps the body (5 KiB), times out after 2.5 s and validates the document; this adds
 * the address check where it cannot be dodged:
 *
 * - names are resolved by our `lookup`, which refuses special-use addresses before connecting;
 * - after connecting, the socket's actual remote address is checked again (this also covers IP
 *   literals, which skip DNS, and rules out DNS rebinding between check and connect).
 *
 * Within one request a failed fetch is remembered and not tried again: oidc-provider looks the
 * client up a second time while rendering the error, which would double the wait on a slow host.
 * Nothing is remembered across requests. The memory is keyed on the request oidc-provider is
 * serving (`Provider.ctx`, its own AsyncLocalStorage around its routes), not on a scope of ours:
 * every further AsyncLocalStorage in the process is paid on every promise of every request (one
 * more propagation per promise in Node's init hook), while documents are fetched only on the few
 * requests that name a URL client_id. A lookup outside the provider's routes (our interaction
 * pages) remembers nothing, as before.
 *
 * `dangerouslyAllowLoopback` and `ca` exist for tests that serve documents from 127.0.0.1 with
 * a test certificate; they are code options, never configuration.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import Provider from 'oidc-provider';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import { isSpecialUseAddress } from './special-use-addresses.ts';

export interface MetadataFetchOptions {
  dangerouslyAllowLoopback?: boolean;
  /** Extra trusted CA certificates (PEM), for tests. */
  ca?: string | string[];
}

export class SpecialUseAddressError extends Error {
  override name = 'SpecialUseAddressError';
  readonly code = 'ERR_SPECIAL_USE_ADDRESS';
}

/** Failed fetches by URL, per request; an entry goes with its request. */
const failuresByRequest = new WeakMap<object, Map<string, Promise<Response>>>();

/** The failures remembered for the request being served, if oidc-provider is serving one. */
function failuresThisRequest(): Map<string, Promise<Response>> | undefined {
  const request = (Provider as unknown as { ctx?: object }).ctx;
  if (!request) return undefined;
  let failures = failuresByRequest.get(request);
  if (!failures) {
    failures = new Map();
    failuresByRequest.set(request, failures);
  }
  return failures;
}

export function createMetadataFetch(options: MetadataFetchOptions = {}): (url: string | URL | Request, init?: RequestInit) => Promise<Response> {
  const allowLoopback = options.dangerouslyAllowLoopback === true;

  const guardedLookup: LookupFunction = (hostname, lookupOptions, callback) => {
    dnsLookup(hostname, { ...lookupOptions, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as unknown as LookupAddress[];
      const allowed = list.filter((a) => !isSpecialUseAddress(a.address, allowLoopback));
      if (allowed.length === 0) return callback(new SpecialUseAddressError(`${hostname} resolves only to special-use addresses`), '', 0);
      if (lookupOptions.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
      return callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };

  const connect = buildConnector({ ca: options.ca, lookup: guardedLookup } as buildConnector.BuildOptions);
  const agent = new Agent({
    connect(connectOptions, callback) {
      connect(connectOptions, (err, socket) => {
        if (err || !socket) return callback(err ?? new Error('connect failed'), null);
        const address = socket.remoteAddress;
        if (!address || isSpecialUseAddress(address, allowLoopback)) {
          socket.destroy();
          return callback(new SpecialUseAddressError(`refusing to fetch from special-use address ${address}`), null);
        }
        return callback(null, socket);
      });
    },
  });

  return function fetchClientMetadata(url, init) {
    // The provider sets its own dispatcher; ours replaces it.
    const href = url instanceof Request ? url.url : String(url);
    const failures = failuresThisRequest();
    const failed = failures?.get(href);
    if (failed) return failed;
    const { dispatcher: _ignored, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown };
    const response = undiciFetch(href, { ...(rest as object), dispatcher: agent }) as unknown as Promise<Response>;
    response.catch(() => failures?.set(href, response));
    return response;
  };
}
