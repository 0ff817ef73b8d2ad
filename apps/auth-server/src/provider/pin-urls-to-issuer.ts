/**
 * Every URL the provider publishes or redirects to is built from the configured issuer, never from
 * the request.
 *
 * oidc-provider's per-request `urlFor` resolves route paths against `ctx.href`, i.e. the request's
 * `Host` (or, with `proxy` on, `X-Forwarded-Host`/`-Proto`). Anyone could then make the metadata
 * name their host (`Host: evil.example` → `"token_endpoint": "http://evil.example/oauth/token"`),
 * and a malformed `Host` made `new URL` throw (500). RFC 8414 §3 and §3.3: the metadata describes
 * the issuer, whose identifier the client compares; the endpoints belong with it. The provider's
 * own `provider.urlFor` already resolves against the issuer (and its path as the mount path),
 * so the request's version is replaced by it. Behind a proxy (`trust_proxy`) the issuer still
 * decides: forwarded headers only tell the scheme (Secure cookies) and the client address.
 */
import type Provider from 'oidc-provider';

export function pinUrlsToIssuer(provider: Provider): void {
  provider.OIDCContext.prototype.urlFor = function urlFor(name: string, options?: Record<string, unknown>): string {
    return provider.urlFor(name, options);
  };
}
