/**
 * With an https issuer, answers a page request that reached Gatehouse as plain http with a page
 * (or JSON) that names the fix, before any code sets a cookie. Those cookies are Secure, and the
 * cookies library throws when asked to set one on a request Koa does not see as https: without
 * this, every sign-in and admin page answered 500 "Something went wrong" with a stack trace in
 * the log that named nothing to change. The usual cause is a TLS proxy that sends no
 * `X-Forwarded-Proto` (Apache mod_proxy's and HAProxy's default, an nginx block without the
 * header), or `TRUST_PROXY` left unset (only possible with
 * `GATEHOUSE_DANGEROUSLY_ALLOW_HTTPS_ISSUER_WITHOUT_TLS`).
 *
 * - Only the pages that set cookies: `/admin…`, `/account…`, `/interaction/…`,
 *   `/oauth/authorize…` and `/oauth/callback…` (the provider's session and interaction cookies,
 *   the CSRF cookie, the admin sign-in state, the federated browser binding). Every other path
 *   sets none and works over such a proxy: the probes and the metadata and JWKS documents (so
 *   monitoring and `gatehouse doctor` can still see the server), and the token, registration and
 *   revocation endpoints (ID-JAG exchanges and refreshes need no browser).
 * - 500 `server_error`: the deployment is wrong, not the request; the message is ours, so it is
 *   shown (error-pages.ts), and no stack trace is logged.
 * - One warning in the log per process, naming the same fix: a request log line per request
 *   already records each answer.
 *
 * Deliberately not done: redirecting to https. The request may well have come over https to the
 * proxy, which would send the redirect straight back.
 */
import type { Context, Next } from 'koa';
import type { Logger } from '../../../shared/logger.ts';
import { PageError } from './page-error.ts';

const COOKIE_PATH = /^\/(?:admin(?:\/|$)|account(?:\/|$)|interaction\/|oauth\/(?:authorize|callback)(?:\/|$))/i;

const FIX = 'A TLS proxy in front must send the header X-Forwarded-Proto: https (nginx: proxy_set_header X-Forwarded-Proto $scheme; Apache: RequestHeader set X-Forwarded-Proto https), and the auth-server must trust it (TRUST_PROXY=true).';

export function refusePagesOverPlainHttp(options: { issuer: string; logger: Logger }) {
  if (new URL(options.issuer).protocol !== 'https:') return function plainHttpIssuer(_ctx: Context, next: Next): Promise<void> { return next(); };
  const explanation = `This request reached Gatehouse as http although its issuer ${options.issuer} is https, so the sign-in cookies, which are Secure, cannot be set. ${FIX}`;
  let warned = false;

  // Not async: nothing runs after next() (redirect-to-issuer-host.ts says why that matters); a
  // throw here still reaches errorPages as a rejection (koa-compose).
  return function refusePagesOverPlainHttpMiddleware(ctx: Context, next: Next): Promise<void> {
    // `ctx.url` first: `ctx.path` throws on a target no URL parser reads.
    if (ctx.secure || !ctx.url.startsWith('/') || !COOKIE_PATH.test(ctx.path)) return next();
    if (!warned) {
      warned = true;
      options.logger.warn({ path: ctx.path.slice(0, 512), trustProxy: ctx.app.proxy }, `a page was requested over plain http although the issuer is https: pages that sign in answer 500 until this is fixed. ${FIX}`);
    }
    throw new PageError(500, 'server_error', explanation);
  };
}
