/**
 * The caller's address, by the rule the auth-server applies through Koa (`proxy: trust_proxy`,
 * `maxIpsCount: 1`), so both apps name one client alike in its connection events:
 *
 * - Without `trust_proxy`: the TCP peer's address. `X-Forwarded-For` is the client's to invent.
 * - With it: the last `X-Forwarded-For` entry, the address the proxy in front of us saw; earlier
 *   entries were written by whoever spoke to that proxy, so they are not believed. No header: the
 *   TCP peer.
 *
 * Deliberately not done: parsing or normalising the address (Koa does not either).
 */
import type { IncomingMessage } from 'node:http';

export function clientAddress(req: IncomingMessage, trustProxy: boolean): string | undefined {
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for'];
    const last = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded ?? '').split(',').at(-1)!.trim();
    if (last) return last;
  }
  return req.socket.remoteAddress;
}
