/**
 * What an entry of the redirect URI, private-use scheme and trusted host allow-lists may be, wherever it comes from:
 * the config file (config/auth-server-section.ts refuses it at load) and the admin pages and CLI
 * (the auth-server's management/allow-list.ts, which words each refusal for the person typing).
 *
 * - Scheme and host are case-insensitive (RFC 3986 §6.2.2.1) and matched in lower case, so an
 *   entry is folded first (`caseFoldUri`, `caseFoldHost`) and checked as it will be stored.
 * - A redirect URI is an exact https URI in the normal form a browser sends (find-uri-defect.ts),
 *   with no fragment (RFC 6749 §3.1.2) and no user info; loopback http needs no entry (RFC 8252
 *   §7.3) and private-use schemes have their own list.
 * - A trusted host is the `host` of a document's https URL: RFC 1123 labels or an IPv4 address,
 *   and a port other than 443, written as a URL parser writes it, or it would never match.
 * - A private-use scheme is a scheme name (RFC 3986 §3.1), neither http(s) (https URIs are listed
 *   one by one) nor one that opens a browser, runs content or starts a system handler
 *   (dangerous-schemes.ts).
 * Deliberately not checked: whether the host resolves, or who owns it.
 */
import { isDangerousScheme, isSchemeName } from './dangerous-schemes.ts';
import { findUriDefect, MAX_REDIRECT_URI_LENGTH } from './find-uri-defect.ts';
import { isLoopbackHostname } from './loopback-hosts.ts';

/** `value` with its scheme and authority (`https://Example.COM`) in lower case: the rest is case-sensitive. */
export function caseFoldUri(value: string): string {
  return value.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/, (schemeAndAuthority) => schemeAndAuthority.toLowerCase());
}

export function caseFoldHost(value: string): string {
  return value.toLowerCase();
}

export type RedirectUriEntryProblem =
  | { problem: 'too_long' | 'loopback_http' | 'other_scheme' | 'not_https' | 'fragment' | 'user_info' | 'wildcard' }
  | { problem: 'defect'; defect: string };

/** Why `uri` (`caseFoldUri` applied) cannot be an allowed redirect URI, or undefined. */
export function checkAllowedRedirectUri(uri: string): RedirectUriEntryProblem | undefined {
  if (uri.length > MAX_REDIRECT_URI_LENGTH) return { problem: 'too_long' };
  const url = URL.parse(uri);
  if (!url || !uri.startsWith('https://')) {
    if (url && url.protocol === 'http:' && isLoopbackHostname(url.hostname)) return { problem: 'loopback_http' };
    if (url && !['http:', 'https:'].includes(url.protocol)) return { problem: 'other_scheme' };
    return { problem: 'not_https' };
  }
  if (uri.includes('#')) return { problem: 'fragment' };
  if (url.username || url.password) return { problem: 'user_info' };
  // Registration compares redirect URIs as exact strings (RFC 9700 §4.1.3), so `*.example.com`
  // or `/cb/*` would only ever match itself: an entry that looks like a pattern and allows nothing.
  if (url.hostname.includes('*') || url.pathname.includes('*')) return { problem: 'wildcard' };
  const defect = findUriDefect(uri);
  return defect ? { problem: 'defect', defect } : undefined;
}

/** RFC 1035 §2.3.4: at most 253 characters written out, 63 per label. */
export const MAX_HOST_NAME_LENGTH = 253;
/** RFC 1123 §2.1 labels (letters, digits, inner hyphens), dot-separated, and an optional port 1 to 65535. */
const HOST_AND_PORT = /^(?<name>[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*)(?::(?<port>[1-9]\d{0,4}))?$/;

export type TrustedHostProblem = { problem: 'too_long' | 'not_a_host' } | { problem: 'written_otherwise'; written: string };

/**
 * Why `host` (`caseFoldHost` applied) cannot be a trusted host, or undefined. `written_otherwise`:
 * an https URL writes it as `written` (443, the default port, is dropped; `0x7f.1` is 127.0.0.1).
 */
export function checkTrustedHost(host: string): TrustedHostProblem | undefined {
  if (host.length > MAX_HOST_NAME_LENGTH + ':65535'.length) return { problem: 'too_long' };
  const parts = HOST_AND_PORT.exec(host)?.groups;
  const written = URL.parse(`https://${host}/`)?.host;
  if (!parts || parts.name!.length > MAX_HOST_NAME_LENGTH || Number(parts.port ?? 1) > 65535 || !written) return { problem: 'not_a_host' };
  return written === host ? undefined : { problem: 'written_otherwise', written };
}

/** A scheme name as the list holds it: lower case, without `:` or `://`. */
export function caseFoldScheme(value: string): string {
  return value.toLowerCase().replace(/:(\/\/)?$/, '');
}

/** Longest scheme name taken: reverse-domain schemes (RFC 8252 §7.1) are a domain name or two long. */
export const MAX_SCHEME_LENGTH = 100;

export type SchemeProblem = { problem: 'too_long' | 'not_a_scheme' | 'http' | 'dangerous' };

/** Why `scheme` (`caseFoldScheme` applied) cannot be an allowed private-use scheme, or undefined. */
export function checkAllowedScheme(scheme: string): SchemeProblem | undefined {
  if (scheme.length > MAX_SCHEME_LENGTH) return { problem: 'too_long' };
  if (!isSchemeName(scheme)) return { problem: 'not_a_scheme' };
  if (scheme === 'http' || scheme === 'https') return { problem: 'http' };
  return isDangerousScheme(scheme) ? { problem: 'dangerous' } : undefined;
}
