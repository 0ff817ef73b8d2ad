/**
 * Who called, as a connection event records it: the address by the app's trusted-proxy rule
 * (Koa's `ctx.ip` with `proxy` and `maxIpsCount: 1`, the rule the audit log uses) and the
 * User-Agent, at most 256 characters.
 */
import type { Context } from 'koa';

const MAX_USER_AGENT = 256;

export function requestFacts(ctx: Pick<Context, 'ip' | 'get'>): { ip?: string; userAgent?: string } {
  const userAgent = ctx.get('user-agent');
  return { ip: ctx.ip || undefined, userAgent: userAgent ? userAgent.slice(0, MAX_USER_AGENT) : undefined };
}
