/**
 * Which redirect URIs a client may register (RFC 7591 §2, RFC 8252, OAuth 2.1 §2.3.1).
 *
 * - Every URI: byte-exact RFC 3986 in the normal form browsers use (see shared/find-uri-defect.ts), so
 *   the `Location` sent is the registered string plus the response parameters.
 * - https URIs: exact string match against the allow-list (default: Claude's two callbacks).
 * - http URIs: only on loopback hosts (127.0.0.1, [::1], localhost), any port (RFC 8252 §7.3);
 *   they make the client a native one, for which oidc-provider matches loopback on any port.
 * - Private-use schemes (RFC 8252 §7.1), when `allowPrivateUseSchemes` is on: a reverse-domain
 *   scheme, a known MCP client's scheme, or one an admin allowed; never a dangerous one
 *   (redirect-uri-schemes.ts), whatever the lists say.
 * - Never: fragments (RFC 6749 §3.1.2), userinfo.
 * Deliberately not checked here: reachability of the URI, or who owns an https host or a scheme.
 */
import { isLoopbackHostname } from '../../../shared/loopback-hosts.ts';
import { findUriDefect, MAX_REDIRECT_URI_LENGTH } from '../../../shared/find-uri-defect.ts';
import { isDangerousScheme } from '../../../shared/dangerous-schemes.ts';
import { isReverseDomainScheme, KNOWN_CLIENT_SCHEMES } from './redirect-uri-schemes.ts';

export interface RedirectUriPolicy {
  /** Exact https redirect URIs that may be registered. Read per registration, so changes apply at once. */
  allowedRedirectUris(): ReadonlySet<string>;
  /** Private-use schemes an admin allowed (config ∪ admin list; lowercase, no colon). Read per registration. */
  allowedSchemes(): ReadonlySet<string>;
  /** Off: no private-use scheme at all, only https and loopback http. */
  allowPrivateUseSchemes: boolean;
  /** Any https URI is acceptable (Client ID Metadata Documents: trust comes from the document's host). */
  anyHttps?: boolean;
  /** Any private-use scheme that is not dangerous (an administrator vouches for a static client). */
  anyPrivateUseScheme?: boolean;
}

export type RedirectUriVerdict = { ok: true; native: boolean } | { ok: false; reason: string };

export function isLoopbackHttpUri(uri: string): boolean {
  const url = URL.parse(uri);
  return url?.protocol === 'http:' && isLoopbackHostname(url.hostname);
}

function checkPrivateUseScheme(scheme: string, policy: RedirectUriPolicy): RedirectUriVerdict {
  if (isDangerousScheme(scheme)) return { ok: false, reason: `the ${scheme}: scheme is never allowed in redirect_uris` };
  if (!policy.allowPrivateUseSchemes) return { ok: false, reason: 'private-use URI schemes are not allowed on this server' };
  if (policy.anyPrivateUseScheme || isReverseDomainScheme(scheme) || KNOWN_CLIENT_SCHEMES.has(scheme) || policy.allowedSchemes().has(scheme)) {
    return { ok: true, native: true };
  }
  return {
    ok: false,
    reason: `the ${scheme}: scheme is not allowed; private-use schemes must be reverse-domain names such as com.example.app (RFC 8252 section 7.1), or be allowed by the administrator`,
  };
}

export function checkRedirectUri(uri: string, policy: RedirectUriPolicy): RedirectUriVerdict {
  if (typeof uri !== 'string' || uri.length > MAX_REDIRECT_URI_LENGTH) {
    return { ok: false, reason: `redirect_uris must be strings of at most ${MAX_REDIRECT_URI_LENGTH} characters` };
  }
  const url = URL.parse(uri);
  if (!url || !/^[a-z][a-z0-9+.-]*:/i.test(uri)) return { ok: false, reason: 'redirect_uris must be absolute URIs' };
  if (uri.includes('#')) return { ok: false, reason: 'redirect_uris must not contain a fragment' };
  const defect = findUriDefect(uri);
  if (defect) return { ok: false, reason: defect };
  if (url.username || url.password) return { ok: false, reason: 'redirect_uris must not contain userinfo' };

  if (url.protocol === 'http:') {
    if (isLoopbackHostname(url.hostname)) return { ok: true, native: true };
    return { ok: false, reason: 'plain http redirect_uris are only allowed on loopback hosts (127.0.0.1, [::1], localhost)' };
  }
  if (url.protocol === 'https:') {
    if (policy.anyHttps || policy.allowedRedirectUris().has(uri)) return { ok: true, native: false };
    return { ok: false, reason: 'an https redirect URI is not on the allow-list of this server; ask its administrator to allow it' };
  }
  return checkPrivateUseScheme(url.protocol.slice(0, -1), policy);
}
