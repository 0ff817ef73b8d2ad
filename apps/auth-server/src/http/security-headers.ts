/**
 * Security headers. The CSP and framing headers are set before the request is handled, so that
 * oidc-provider can add the hash of its one inline script (the form_post page) to `script-src`;
 * on HTML responses (ours and the provider's) `Cache-Control: no-store` is added afterwards,
 * and HSTS when the issuer is https.
 *
 * - CSP: only our own assets, no plugins, no <base>, no framing.
 * - No referrer, so codes and states in URLs never leak to another site.
 * - No `form-action`: Chromium applies it to the redirects that follow a form post, which would
 *   block the consent page's final redirect to the client.
 */
import type { Context, Next } from 'koa';

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "object-src 'none'",
  "base-uri 'none'",
].join('; ');

export function securityHeaders(options: { https: boolean }) {
  return async function securityHeadersMiddleware(ctx: Context, next: Next): Promise<void> {
    ctx.set('Content-Security-Policy', CSP);
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Content-Type-Options', 'nosniff');
    if (options.https) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    await next();
    if (ctx.response.is('html')) ctx.set('Cache-Control', 'no-store');
  };
}
