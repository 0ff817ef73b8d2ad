/**
 * The resource server's origin root (`/`): the MCP endpoint for MCP requests, a short page for a
 * person who opens it in a browser.
 *
 * Why `/` serves MCP at all: after authorization, Claude (web and Desktop) sends its MCP requests
 * to the connector's origin root instead of the resource path the PRM published
 * (anthropics/claude-ai-mcp#62, #806: "POST / -> 404, GET / -> 404, Claude gives up"). The same
 * endpoint answers there (mcp-request-listener.ts), so the token is checked against the configured
 * resource exactly as at `/mcp`, and a request without one gets the same 401 challenge, naming the
 * configured PRM URL.
 *
 * What counts as an MCP request at `/` (MCP 2025-11-25 transports §Streamable HTTP):
 * - POST (JSON-RPC messages), DELETE (ending a session), OPTIONS (a browser client's preflight).
 * - GET that accepts `text/event-stream` (the server-to-client stream) or carries an
 *   `Authorization` header. Any other GET (a browser asking for HTML) gets rootPage instead, so a
 *   person who pastes the MCP origin into a browser learns which URL to give their client.
 * - Never HEAD: the MCP endpoint does not serve it (mcp-request-listener.ts), the page does.
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import { renderPage } from './render-page.ts';

export function isMcpRequestAtRoot(req: IncomingMessage): boolean {
  const method = req.method;
  if (method === 'POST' || method === 'DELETE' || method === 'OPTIONS') return true;
  if (method !== 'GET') return false;
  return req.headers.authorization !== undefined || (req.headers.accept ?? '').toLowerCase().includes('text/event-stream');
}

/**
 * `GET /` from a browser: what this server is and the URL to connect an MCP client to
 * (views/resource-server/root-page.njk, rendered once here).
 */
export function rootPage(resource: string) {
  const html = renderPage('root-page', { resource });
  return function rootPageMiddleware(ctx: Context): void {
    // default-src does not cover framing: without frame-ancestors any site could frame the page.
    ctx.set('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = html;
  };
}
