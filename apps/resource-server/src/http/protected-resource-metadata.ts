/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728), served at the path-inserted URL for the
 * resource (`/.well-known/oauth-protected-resource/mcp`, RFC 9728 §3.1) and at the bare
 * `/.well-known/oauth-protected-resource` for clients that try that first. Same document at both.
 *
 * - `resource` is RESOURCE_URL byte for byte: a client must reject metadata whose `resource`
 *   differs from the URL it used (RFC 9728 §3.3), and it copies it into `resource=` (RFC 8707).
 * - Every URL comes from configuration, never from the request's Host header, so behind a proxy the
 *   document names the external scheme and host.
 * - Public and cookie-less, so readable from any origin (browser clients such as MCP Inspector).
 * - `onServed` hears of each GET (a connection's step; not the CORS preflight).
 */
import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';

export interface ProtectedResourceMetadataOptions {
  resource: string;
  issuer: string;
  /** `scopes_supported`, by `challenge_scopes` (mcp/advertised-scopes.ts). */
  scopesSupported: readonly string[];
  /** Told about each GET of the document. */
  onServed?: (req: IncomingMessage) => void;
}

/** The path-inserted metadata URL for `resource` (RFC 9728 §3.1). */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  return `${url.origin}/.well-known/oauth-protected-resource${url.pathname}`;
}

export function protectedResourceMetadata({ resource, issuer, scopesSupported, onServed }: ProtectedResourceMetadataOptions) {
  const document = JSON.stringify({
    resource,
    authorization_servers: [issuer],
    scopes_supported: [...scopesSupported],
    bearer_methods_supported: ['header'],
    resource_name: 'Gatehouse MCP',
  });

  return async function protectedResourceMetadataMiddleware(ctx: Context, _next: Next): Promise<void> {
    ctx.set('Access-Control-Allow-Origin', '*');
    if (ctx.method === 'OPTIONS') {
      // RFC 9110 §9.3.7: what these paths serve, as their 405 says (answer-method-not-allowed.ts).
      ctx.set('Allow', 'HEAD, GET, OPTIONS');
      ctx.set('Access-Control-Allow-Methods', 'GET');
      // The MCP SDK sends MCP-Protocol-Version on its discovery requests, which makes them preflighted.
      ctx.set('Access-Control-Allow-Headers', 'MCP-Protocol-Version, Content-Type, Authorization');
      ctx.set('Access-Control-Max-Age', '600');
      ctx.status = 204;
      return;
    }
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.type = 'application/json';
    ctx.body = document;
    onServed?.(ctx.req);
  };
}
