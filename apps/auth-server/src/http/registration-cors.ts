/**
 * CORS for /oauth/register, which oidc-provider leaves without it. Browser-based MCP clients
 * (MCP Inspector) register from their own origin. Registration is anonymous and cookie-less, so
 * any origin may call it; credentials are never allowed.
 */
import type { Context, Next } from 'koa';

export async function registrationCors(ctx: Context, next: Next): Promise<void> {
  if (ctx.path !== '/oauth/register' || !ctx.get('origin')) return next();
  ctx.set('Access-Control-Allow-Origin', '*');
  // A 429 says when to come back; a script reads Retry-After only when it is exposed.
  ctx.set('Access-Control-Expose-Headers', 'Retry-After');
  if (ctx.method === 'OPTIONS') {
    ctx.set('Access-Control-Allow-Methods', 'POST');
    ctx.set('Access-Control-Allow-Headers', 'Content-Type, Authorization, MCP-Protocol-Version');
    ctx.set('Access-Control-Max-Age', '600');
    ctx.status = 204;
    return;
  }
  await next();
}
