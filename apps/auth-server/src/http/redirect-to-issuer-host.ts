/**
 * Sends a browser that opened a page on another host than the issuer's to the same path and
 * query on the issuer's host, before anything signs it in. Cookies belong to one host, and every
 * redirect the provider builds points at the issuer (provider/pin-urls-to-issuer.ts): a sign-in
 * begun at `127.0.0.1:4000/admin` while the issuer is `http://localhost:4000` ends on
 * `localhost:4000`, without the first host's cookies, and asks for a second sign-in.
 *
 * - Only GET and HEAD of the pages a person opens: `/`, `/admin…`, `/account…`,
 *   `/interaction/…` and `/oauth/authorize…`. Never the API endpoints (metadata, token, JWKS,
 *   registration, revocation feed) nor the probes (`/healthz`, often called by IP): their answers
 *   do not depend on the host, and programs do not follow a redirect, least of all on a POST.
 * - 302 Found: with only GET and HEAD redirected, 302 and 307 behave the same; temporary, not
 *   301/308, because browsers keep a permanent redirect and would send people to an old host
 *   after the issuer changed.
 * - Which host the browser used: with `trust_proxy`, the first `X-Forwarded-Host`; any other host
 *   there is redirected (a value without a port, as nginx's `$host` gives, by its name only). Otherwise `Host`, and only when it names this machine another way
 *   (`localhost`, `127.0.0.1`, `[::1]`) on the issuer's own port, as a browser talking to the
 *   server directly does. A `Host` set by a proxy in front (often its upstream address, such as
 *   `127.0.0.1:4000` for the issuer `https://auth.example.com`) is left alone: redirecting it
 *   would loop through that proxy.
 * - The scheme is not compared: behind a proxy that sends no `X-Forwarded-Proto` every request
 *   looks like http, and that would loop too.
 */
import type { Context, Next } from 'koa';
import { isLoopbackHostname } from '../../../shared/loopback-hosts.ts';
import { isGetOrHead } from './prepare-oauth-request.ts';

const PAGE_PATH = /^\/(?:$|admin(?:\/|$)|account(?:\/|$)|interaction\/|oauth\/authorize(?:\/|$))/i;

/** The host and port (port '' when it is the scheme's default) the browser used, or undefined. */
function parseHost(protocol: string, host: string): URL | undefined {
  return URL.canParse(`${protocol}//${host}/`) ? new URL(`${protocol}//${host}/`) : undefined;
}

export function redirectToIssuerHost(options: { issuer: string; trustProxy: boolean }) {
  const issuer = new URL(options.issuer);
  const issuerIsLoopback = isLoopbackHostname(issuer.hostname);

  function isOtherHost(ctx: Context): boolean {
    const forwarded = options.trustProxy ? ctx.get('x-forwarded-host').split(',')[0]!.trim() : '';
    if (forwarded) {
      const used = parseHost(issuer.protocol, forwarded);
      // nginx's `$host` drops the port: a port-less value is compared by name only, or it would loop.
      if (!used) return false;
      return /:\d+$/.test(forwarded) ? used.host !== issuer.host : used.hostname !== issuer.hostname;
    }
    const direct = parseHost(issuer.protocol, ctx.get('host'));
    return issuerIsLoopback && direct !== undefined && isLoopbackHostname(direct.hostname)
      && direct.port === issuer.port && direct.hostname !== issuer.hostname;
  }

  // Not async: nothing runs after next(), and an async frame per middleware cost about 1 µs a
  // request (koa-compose microbenchmark).
  return function redirectToIssuerHostMiddleware(ctx: Context, next: Next): Promise<void> {
    const isPage = isGetOrHead(ctx.method) && ctx.url.startsWith('/') && PAGE_PATH.test(ctx.path);
    if (isPage && isOtherHost(ctx)) {
      ctx.redirect(`${issuer.origin}${ctx.url}`);
      return Promise.resolve();
    }
    return next();
  };
}
