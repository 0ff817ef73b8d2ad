/**
 * `GET /gateway/servers`: every MCP server behind the gateway, as `{ servers: Gateway#describe() }`
 * (name, transport, per-user, state and why it is down, processes, configured scopes, and the
 * tools it last listed with the scope each needs), for the auth-server's admin pages.
 *
 * - Runs behind the same origin guard and bearer check as /mcp and needs `mcp:admin`
 *   (requireScope): tool names, scopes and failure reasons are for operators only. The public
 *   /readyz reports states alone.
 * - `Cache-Control: no-store` (RFC 9111 §5.2.2.5): the answer follows a bearer token and changes
 *   with every process start and list, so no cache in between may keep it.
 * - Deliberately not here: server URLs, commands, arguments, environment or headers, which may
 *   carry credentials; `describe()` does not return them.
 */
import type { Context } from 'koa';
import type { Gateway } from '../gateway/gateway.ts';

export const GATEWAY_SERVERS_PATH = '/gateway/servers';

export function describeGatewayServers(gateway: Gateway) {
  return function describeGatewayServersMiddleware(ctx: Context): void {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { servers: gateway.describe() };
  };
}
