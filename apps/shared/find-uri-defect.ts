/**
 * A redirect URI is compared and sent back byte for byte, so it must be exactly what it looks like:
 *
 * - only RFC 3986 characters (§2: unreserved, reserved, and `%` with two hex digits); no controls,
 *   CR/LF, tab, space, `"`, `<`, `>`, `\`, `^`, backtick, `{`, `|`, `}` or non-ASCII, and `[` `]`
 *   only around an IPv6 host (§3.2.2);
 * - unchanged by WHATWG URL parsing (which browsers and oidc-provider use): no upper-case scheme or
 *   host, default port, dot segments, empty query, … that the parser would rewrite;
 * - unchanged when oidc-provider adds `code`, `state` and `iss` (lib/helpers/redirect_uri.js sets
 *   them through URLSearchParams, which re-encodes the whole query and replaces a parameter of the
 *   same name): so the `Location` sent is the registered string plus the response parameters.
 * Returns why the URI is refused, or undefined. The reason never repeats the URI: RFC 6749 §5.2
 * limits error_description to printable ASCII without `"` and `\`.
 */
/** Per URI; browsers and proxies commonly handle 2000 characters, and no real callback needs more. */
export const MAX_REDIRECT_URI_LENGTH = 2000;

const RFC3986 = /^(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;
const IPV6_AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/(?:[^/?#@]*@)?)\[[0-9A-Fa-f:.]+\]/;
const RESPONSE_PARAMETERS = { code: 'c', state: 's', iss: 'i' };

export function findUriDefect(uri: string): string | undefined {
  if (!RFC3986.test(uri)) return 'redirect_uris must contain only RFC 3986 characters (no spaces, controls, quotes or non-ASCII; percent-escapes as %XX)';
  if (/[[\]]/.test(uri.replace(IPV6_AUTHORITY, '$1'))) return 'square brackets are only allowed around an IPv6 host';
  const url = URL.parse(uri);
  if (!url) return 'redirect_uris must be absolute URIs';
  if (url.href !== uri) return 'redirect_uris must be in normal form (lower-case scheme and host, no default port or dot segments), exactly as a browser would send them';
  for (const [name, value] of Object.entries(RESPONSE_PARAMETERS)) url.searchParams.set(name, value);
  const expected = `${uri}${uri.includes('?') ? '&' : '?'}${new URLSearchParams(RESPONSE_PARAMETERS).toString()}`;
  if (url.href !== expected) return 'the query of a redirect URI must be form-encoded and must not use the parameters code, state or iss';
  return undefined;
}
