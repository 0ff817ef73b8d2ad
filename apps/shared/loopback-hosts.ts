/**
 * What counts as "this machine", in the two forms it is written in.
 *
 * - A URL's host name (`new URL(…).hostname`, so IPv6 in brackets): where plain http is allowed,
 *   RFC 8252 §7.3 loopback redirect URIs and a loopback issuer for local testing. Only the three
 *   names themselves, not all of 127.0.0.0/8: those are what clients and RFC 8252 §8.3 use.
 * - An interface to listen on (`LISTEN_HOST`, no brackets for IPv6): any 127.x.y.z and ::1, so
 *   listening there never warns about plain http.
 */

/** URL host names of this machine. */
export const LOOPBACK_HOSTNAMES: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

export function isLoopbackHostname(hostname: string): boolean {
  return LOOPBACK_HOSTNAMES.has(hostname);
}

const LOOPBACK_INTERFACE_NAMES: ReadonlySet<string> = new Set(['localhost', '::1', '[::1]']);

/** True for a listen address that only this machine can reach. */
export function isLoopbackInterface(host: string): boolean {
  return LOOPBACK_INTERFACE_NAMES.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}
