/**
 * Per-client-IP rate limits on the unauthenticated POST endpoints, and the server-wide cap on
 * registrations pending first use. Runs before anything reads the body or reaches the provider.
 *
 * - POST /oauth/register: `registration` (default 20 at once, refilled over 10 minutes; Claude
 *   registers once per connect, so a person reconnecting never gets near it), then the pending cap.
 * - POST /oauth/token, /oauth/revoke, /oauth/introspect: `token` (default 600 per minute).
 * - POST /interaction/… (sign-in, consent, federated sign-in) and /oauth/authorize (GET, HEAD or POST:
 *   each starts an interaction the server keeps for an hour, so a flood of them would fill the
 *   database): `signIn` (default 120 per minute; wrong passwords are limited much sooner by the
 *   sign-in throttle).
 * - Past a limit: 429 (RFC 6585 §4) with Retry-After and `temporarily_unavailable` (RFC 6749
 *   §4.1.2.1: "temporary overloading"), as JSON on /oauth/* and as the error page on the forms.
 *   Nothing reaches the provider, so a flood writes no audit rows: it is counted in a metric and
 *   logged at most once a minute per limit.
 * - The client IP is `ctx.ip`: with trust_proxy, the address the proxy in front of us saw (the
 *   last X-Forwarded-For entry; the app is built with maxIpsCount 1, as earlier entries are the
 *   client's to invent), keyed by client-address-key.ts: IPv6 clients are limited per /64, the
 *   block one subscriber gets.
 * Deliberately not limited: other GETs (cheap, and they store nothing), /admin (signed in).
 */
import type { Context, Next } from 'koa';
import type { Clock } from '../../../shared/clock.ts';
import type { Logger } from '../../../shared/logger.ts';
import type { PendingRegistrations } from '../registration/pending-registrations.ts';
import { clientAddressKey } from './client-address-key.ts';
import { PageError } from './page-error.ts';
import { isGetOrHead, routeOf } from './prepare-oauth-request.ts';
import type { RateLimit, TokenBuckets } from './rate-limiter.ts';

export type LimitName = 'registration' | 'token' | 'sign_in' | 'pending_registrations';

export interface LimitRequestsOptions {
  limiter: TokenBuckets;
  /** Per-IP limits; undefined when switched off (the pending cap still applies). */
  limits: { registration: RateLimit; token: RateLimit; signIn: RateLimit } | undefined;
  pending: PendingRegistrations;
  maxPendingClients: number;
  /** Buckets refill and log lines are spaced on it. */
  clock: Clock;
  logger: Logger;
  onLimited: (limit: LimitName) => void;
}

const TOKEN_ROUTES = new Set(['/oauth/token', '/oauth/revoke', '/oauth/introspect']);
const LOG_EVERY_MS = 60_000;

function limitOf(route: string): 'registration' | 'token' | 'signIn' | undefined {
  if (route === '/oauth/register') return 'registration';
  if (TOKEN_ROUTES.has(route)) return 'token';
  if (route.startsWith('/interaction/') || route === '/oauth/authorize') return 'signIn';
  return undefined;
}

export function limitRequests(options: LimitRequestsOptions) {
  const lastLogged = new Map<LimitName, { at: number; suppressed: number }>();

  function refuse(ctx: Context, limit: LimitName, retryAfter: number, description: string): never {
    options.onLimited(limit);
    const now = options.clock.now();
    const logged = lastLogged.get(limit);
    if (!logged || now - logged.at >= LOG_EVERY_MS) {
      options.logger.warn({ limit, ip: ctx.ip, suppressed: logged?.suppressed ?? 0 }, 'rate limit reached');
      lastLogged.set(limit, { at: now, suppressed: 0 });
    } else {
      logged.suppressed += 1;
    }
    ctx.set('Retry-After', String(retryAfter));
    ctx.set('Cache-Control', 'no-store');
    // The body is left unread: close the connection rather than read and discard it.
    ctx.set('Connection', 'close');
    throw new PageError(429, 'temporarily_unavailable', description);
  }

  return async function limitRequestsMiddleware(ctx: Context, next: Next): Promise<void> {
    const route = routeOf(ctx.path);
    const name = ctx.method === 'POST' || (isGetOrHead(ctx.method) && route === '/oauth/authorize') ? limitOf(route) : undefined;
    if (!name) return next();
    const now = options.clock.now();
    if (options.limits) {
      const wait = await options.limiter.take(`${name}:${clientAddressKey(ctx.ip)}`, options.limits[name], now);
      if (wait > 0) refuse(ctx, name === 'signIn' ? 'sign_in' : name, wait, `Too many requests from this address; try again in ${wait} seconds.`);
    }
    if (name === 'registration') {
      const pendingWait = await options.pending.retryAfter(options.maxPendingClients, now);
      if (pendingWait > 0) {
        refuse(ctx, 'pending_registrations', pendingWait, 'Too many registrations are waiting for first use on this server; try again later.');
      }
    }
    await next();
  };
}
