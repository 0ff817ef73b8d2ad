/**
 * Origin check and CORS for the MCP endpoint, ahead of authentication.
 *
 * - MCP 2025-11-25 transports §Security Warning: servers MUST validate `Origin` and answer 403
 *   when it is present and not allowed (DNS rebinding). No `Origin` means a server-to-server
 *   client (Claude's connectors, SDKs, curl): allowed. `Origin: null` is present and refused.
 * - An allowed origin gets CORS headers on every response, the 401 included, and exposes
 *   `WWW-Authenticate` and `Mcp-Session-Id`, which a browser client must read to start the OAuth
 *   flow and to keep its session. No credentials: the token travels in a header, not a cookie.
 * - Preflights (`OPTIONS`) carry no token by design (Fetch §CORS-preflight), so they are answered
 *   here and never reach the bearer check.
 *
 * Done here rather than with the SDK transport's `allowedOrigins`, which runs only inside a
 * session's transport, i.e. after authentication, and sets no CORS headers.
 */
import type { Context, Next } from 'koa';

const ALLOWED_METHODS = 'GET, POST, DELETE';
const ALLOWED_HEADERS = 'Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID';
const EXPOSED_HEADERS = 'WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version';

export function guardOrigin(allowedOrigins: readonly string[]) {
  const allowed = new Set(allowedOrigins);

  return async function guardOriginMiddleware(ctx: Context, next: Next): Promise<void> {
    const origin = ctx.get('origin');
    ctx.vary('Origin');
    if (origin && !allowed.has(origin)) {
      ctx.status = 403;
      ctx.body = { jsonrpc: '2.0', error: { code: -32000, message: 'Forbidden: origin not allowed' }, id: null };
      return;
    }
    if (origin) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    }
    if (ctx.method === 'OPTIONS') {
      ctx.set('Allow', `${ALLOWED_METHODS}, OPTIONS`);
      if (origin) {
        ctx.set('Access-Control-Allow-Methods', ALLOWED_METHODS);
        ctx.set('Access-Control-Allow-Headers', ALLOWED_HEADERS);
        ctx.set('Access-Control-Max-Age', '600');
      }
      ctx.status = 204;
      return;
    }
    await next();
  };
}
