/**
 * The `fetch` oidc-provider uses for Client ID Metadata Documents. The provider already refuses
 * redirects, caps the body (5 KiB), times out after 2.5 s and validates the document; this adds
 * the address check where it cannot be dodged, in the agent's connect step, which every connection
 * passes through: the first URL's and each redirect's (the provider follows redirects for a
 * `jwks_uri`). The CIMD draft's SSRF section forbids fetching any URL that resolves to a
 * special-use address (RFC 6890):
 *
 * - a host that is a special-use IP literal is refused before a connection is tried: a TCP (or
 *   TLS) handshake alone reaches the address, and whether it answers (or waits, as a link-local or
 *   private address may, until our timeout) tells the caller which internal ports are open;
 * - names are resolved by our `lookup`, which refuses special-use addresses before connecting;
 * - after connecting, the socket's actual remote address is checked again, which rules out DNS
 *   rebinding between check and connect.
 *
 * oidc-provider fetches every client-named URL through this one function: Client ID Metadata
 * Documents and the `jwks_uri` of a private_key_jwt client (lib/models/client.js), so the same
 * guard covers both. What is remembered of the answers, and for how long, is
 * client-document-cache.ts, in front of this.
 *
 * `dangerouslyAllowLoopback` and `ca` exist for tests that serve documents from 127.0.0.1 with
 * a test certificate; they are code options, never configuration.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
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
      // An IP literal skips our lookup. undici 7 passes IPv6 bracketless (dispatcher/client.js);
      // were it ever bracketed, isIP would not know it and the literal would pass unjudged.
      const host = connectOptions.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) && isSpecialUseAddress(host, allowLoopback)) {
        return callback(new SpecialUseAddressError(`refusing to connect to special-use address ${host}`), null);
      }
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
    const href = url instanceof Request ? url.url : String(url);
    // The provider sets its own dispatcher; ours replaces it.
    const { dispatcher: _ignored, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown };
    return undiciFetch(href, { ...(rest as object), dispatcher: agent }) as unknown as Promise<Response>;
  };
}
