/**
 * Which redirect URIs a client may register (RFC 7591 §2, RFC 8252, OAuth 2.1 §2.3.1).
 *
 * - https URIs: exact string match against the allow-list (default: Claude's two callbacks).
 * - http URIs: only on loopback hosts (127.0.0.1, [::1], localhost), any port (RFC 8252 §7.3);
 *   they make the client a native one, for which oidc-provider matches loopback on any port.
 * - Private-use schemes (`cursor://…`, RFC 8252 §7.1) for native clients, when allowed.
 * - Never: fragments (RFC 6749 §3.1.2), userinfo, or schemes that run or read content in the
 *   browser (`javascript:`, `data:`, `file:`, …).
 * Deliberately not checked here: reachability of the URI, or who owns an https host.
 */

export interface RedirectUriPolicy {
  /** Exact https redirect URIs that may be registered. Read per registration, so changes apply at once. */
  allowedRedirectUris(): ReadonlySet<string>;
  allowPrivateUseSchemes: boolean;
  /** Any https URI is acceptable (Client ID Metadata Documents: trust comes from the document's host). */
  anyHttps?: boolean;
}

export type RedirectUriVerdict = { ok: true; native: boolean } | { ok: false; reason: string };

const FORBIDDEN_SCHEMES = new Set([
  'javascript:', 'data:', 'file:', 'vbscript:', 'blob:', 'about:', 'filesystem:', 'ws:', 'wss:', 'ftp:', 'mailto:', 'tel:',
]);
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

export function isLoopbackHttpUri(uri: string): boolean {
  const url = URL.parse(uri);
  return url?.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}

export function checkRedirectUri(uri: string, policy: RedirectUriPolicy): RedirectUriVerdict {
  if (typeof uri !== 'string' || uri.length > 2000) return { ok: false, reason: 'redirect_uris must be strings of at most 2000 characters' };
  const url = URL.parse(uri);
  if (!url || !/^[a-z][a-z0-9+.-]*:/i.test(uri)) return { ok: false, reason: `${uri} is not an absolute URI` };
  if (uri.includes('#')) return { ok: false, reason: 'redirect_uris must not contain a fragment' };
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return { ok: false, reason: `the ${url.protocol} scheme is not allowed in redirect_uris` };
  if (url.username || url.password) return { ok: false, reason: 'redirect_uris must not contain userinfo' };

  if (url.protocol === 'http:') {
    if (LOOPBACK_HOSTS.has(url.hostname)) return { ok: true, native: true };
    return { ok: false, reason: 'plain http redirect_uris are only allowed on loopback hosts (127.0.0.1, [::1], localhost)' };
  }
  if (url.protocol === 'https:') {
    if (policy.anyHttps || policy.allowedRedirectUris().has(uri)) return { ok: true, native: false };
    return { ok: false, reason: `${uri} is not an allowed redirect URI on this server; ask its administrator to allow it` };
  }
  if (policy.allowPrivateUseSchemes) return { ok: true, native: true };
  return { ok: false, reason: 'private-use URI schemes are not allowed on this server' };
}
