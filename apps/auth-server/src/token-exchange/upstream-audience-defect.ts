/**
 * What makes a URL unfit as an upstream audience: the `resource` (RFC 8707 §2) a resource server
 * may exchange a caller's token for (token-exchange-grant.ts), and what an administrator may put
 * on a client's list of upstream audiences.
 *
 * - Absolute `http:`/`https:` with no fragment (RFC 8707 §2) and no user info: the audience is
 *   compared as an exact string, so it must be a plain URL the upstream knows as its own.
 * - Never this server's issuer or our MCP resource, nor a path under either: a token for those
 *   would be accepted by Gatehouse itself, turning a short-lived identity token into an access
 *   token for Gatehouse's own tools.
 *
 * Deliberately not checked: whether the host is private or loopback (upstreams commonly are), and
 * whether the URL is reachable (the auth-server never calls it).
 */

export interface OwnUrls {
  issuer: string;
  resource: string;
}

const MAX_LENGTH = 2048;

const isSameOrBelow = (value: string, base: string) => {
  const trimmed = base.endsWith('/') ? base.slice(0, -1) : base;
  return value === trimmed || value.startsWith(`${trimmed}/`) || value.startsWith(`${trimmed}?`);
};

/** Why `value` cannot be an upstream audience, or undefined when it can. */
export function upstreamAudienceDefect(value: string, own: OwnUrls): string | undefined {
  if (value.length === 0 || value.length > MAX_LENGTH) return `an upstream audience is a URL of 1 to ${MAX_LENGTH} characters`;
  const url = URL.parse(value);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return `${value} is not an absolute http(s) URL`;
  if (value.includes('#')) return `${value} has a fragment (RFC 8707 §2 forbids one)`;
  if (url.username || url.password) return `${value} carries user info`;
  // Compared as written and as parsed, so `HTTP://HOST:PORT` cannot slip past either one.
  const isOwn = (base: string) => isSameOrBelow(value, base) || isSameOrBelow(url.href, base);
  if (isOwn(own.issuer)) return `${value} is this authorization server (the issuer), not an upstream`;
  if (isOwn(own.resource)) return `${value} is Gatehouse's own MCP resource, not an upstream`;
  return undefined;
}
