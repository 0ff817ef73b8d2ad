/**
 * Whether a `resource` parameter (RFC 8707 §2) names Gatehouse's own MCP resource, in the spellings
 * real clients send for it, and the exact configured URL to hand the provider instead.
 *
 * Accepted besides the exact URL, each only as a suffix of it:
 * - One trailing slash (`<resource>/`): SDKs append it to origin-only URLs.
 * - A query and/or a fragment (`<resource>?utm_source=…`, `<resource>#x`, `<resource>/?a#b`): some
 *   clients copy the connector URL the user pasted, tracking parameters and all. RFC 8707 §2 says
 *   the resource "MUST NOT include a fragment component" and "SHOULD NOT include a query
 *   component"; refusing would be right by the letter and would lock those users out, while
 *   stripping widens nothing: the configured resource has neither (config: resourceUrl), so the
 *   stripped value names the same resource, and the token's `aud` is always the configured URL
 *   byte for byte, never what the client sent.
 *
 * Deliberately not accepted: another scheme, host, port or path, a different case, or more than
 * one trailing slash. Those stay `invalid_target`.
 */

/** `value` without its fragment, then its query, then one trailing slash. */
function withoutQueryAndFragment(value: string): string {
  const hash = value.indexOf('#');
  const beforeHash = hash === -1 ? value : value.slice(0, hash);
  const query = beforeHash.indexOf('?');
  const path = query === -1 ? beforeHash : beforeHash.slice(0, query);
  return path.endsWith('/') ? path.slice(0, -1) : path;
}

export function isOwnResource(value: string, resource: string): boolean {
  return value === resource || withoutQueryAndFragment(value) === resource;
}
