/**
 * Gatehouse as the gateway benchmark runs it, in a process of its own: the real resource-server
 * (SQLite in a temp dir, the revocation feed followed, built-in tools on as by default) with one
 * Streamable HTTP server behind it, `everything`, trusting a test issuer that runs beside it; and
 * a token that issuer minted with the scope the server's tools need.
 *
 * Run alone: npx tsx bench/gatehouse-gateway-server.ts <upstream MCP URL>   (prints {"mcpUrl": …, "token": …})
 */
import { pathToFileURL } from 'node:url';
import type { HttpServerConfig } from '../apps/shared/config/gateway-servers.ts';
import { startGatehouseMcpServer } from './gatehouse-mcp-server.ts';

/** The name the upstream's tools appear under: `everything__echo`. */
export const UPSTREAM_NAME = 'everything';

export async function startGatehouseGateway(upstreamUrl: string): Promise<{ mcpUrl: string; token: string; close(): Promise<void> }> {
  const upstream: HttpServerConfig = {
    name: UPSTREAM_NAME,
    transport: 'http',
    url: upstreamUrl,
    headers: {},
    forwardIdentity: false,
    timeout: 30,
    startTimeout: 60,
    scopes: { default: 'mcp:read', tools: {} },
  };
  return startGatehouseMcpServer({ config: { servers: [upstream] }, scope: 'mcp:read' });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const upstreamUrl = process.argv[2];
  if (!upstreamUrl) throw new TypeError('usage: gatehouse-gateway-server.ts <upstream MCP URL>');
  const { mcpUrl, token, close } = await startGatehouseGateway(upstreamUrl);
  // A clean exit on SIGTERM, so that a CPU profile (--cpu-prof) is written.
  process.once('SIGTERM', () => void close().finally(() => process.exit(0)));
  console.log(JSON.stringify({ mcpUrl, token }));
}
