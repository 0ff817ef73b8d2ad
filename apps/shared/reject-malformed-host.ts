/**
 * Refuses a request whose `Host` is not a host with an optional port, or that carries more than
 * one Host header, with `400 invalid_request`, before any code can hand it to `new URL` (which
 * throws on `Host: a:b:c`).
 *
 * - RFC 9112 §3.2: a server MUST answer 400 to a request whose Host has an invalid value, and to
 *   one with more than one Host header field line. Node refuses an HTTP/1.1 request with no Host
 *   at all, but of several it keeps the first and drops the rest, so the app would act on one host
 *   while a proxy in front routed (or cached) by another.
 * - With `trustProxy`, Koa reads `X-Forwarded-Host` before `Host`, so its first value is held to
 *   the same rule; without it that header is ignored everywhere and not checked.
 *
 * Deliberately not checked: whether the host is ours. Nothing absolute is built from it: the
 * apps' URLs come from configuration (issuer, resource).
 */
import type { Context, Next } from 'koa';
import { countRawHeader } from './count-raw-header.ts';

/** RFC 3986 §3.2.2-3: reg-name or IPv4 (unreserved, pct-encoded, sub-delims) or an IP literal. */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::\d{1,5})?$/;

export function isValidHost(value: string): boolean {
  return HOST.test(value) && URL.canParse(`http://${value}/`);
}

/** Whether the request carried more than one Host header line (`rawHeaders` as Node keeps them). */
export function repeatsHost(rawHeaders: readonly string[]): boolean {
  return countRawHeader(rawHeaders, 'host') > 1;
}

/** Each refusal's `error_description`, shared with the resource server's MCP path. */
export const HOST_REFUSALS = {
  malformed: 'the Host header is not a valid host',
  repeated: 'the request carries more than one Host header',
};

export function rejectMalformedHost(options: { trustProxy: boolean }) {
  // The last value found valid: clients send the same Host on every request, and the check (a
  // pattern and a URL parse) cost about 2 µs a request (measured). Only a valid value is
  // remembered, so a malformed one is checked, and refused, every time.
  let validHost = '';
  const isValid = (value: string): boolean => {
    if (value === validHost) return true;
    if (!isValidHost(value)) return false;
    validHost = value;
    return true;
  };
  // Not async: nothing runs after next(), and an async frame per middleware cost about 1 µs a
  // request (koa-compose microbenchmark, with oidc-provider's AsyncLocalStorage hooks active).
  return function rejectMalformedHostMiddleware(ctx: Context, next: Next): Promise<void> {
    const host = ctx.get('host');
    const forwarded = options.trustProxy ? ctx.get('x-forwarded-host').split(',')[0]!.trim() : '';
    const refusal = repeatsHost(ctx.req.rawHeaders) ? HOST_REFUSALS.repeated
      : (host && !isValid(host)) || (forwarded && !isValid(forwarded)) ? HOST_REFUSALS.malformed : undefined;
    if (refusal) {
      ctx.status = 400;
      ctx.set('Connection', 'close');
      ctx.body = { error: 'invalid_request', error_description: refusal };
      return Promise.resolve();
    }
    return next();
  };
}
