/**
 * Gatehouse's resource server as the MCP benchmark runs it, in a process of its own: the real
 * resource-server (SQLite in a temp dir, the revocation feed followed) trusting a test issuer
 * that runs beside it (its JWKS and feed), and a token that issuer minted for the client.
 *
 * Run alone: npx tsx bench/gatehouse-mcp-server.ts   (prints {"mcpUrl": …, "token": …})
 */
import { pathToFileURL } from 'node:url';
import type { ResourceServerConfig } from '../apps/shared/config/resource-server-section.ts';
import { startResourceServer } from '../test/helpers/start-resource-server.ts';
import { startTestIssuer } from '../test/helpers/test-issuer.ts';

export interface GatehouseMcpServerOptions {
  /** Configuration over the test defaults (e.g. servers behind the gateway). */
  config?: Partial<ResourceServerConfig>;
  /** The scopes of the client's token. Default: every MCP scope. */
  scope?: string;
}

export async function startGatehouseMcpServer({ config, scope = 'mcp:read mcp:write mcp:admin' }: GatehouseMcpServerOptions = {}): Promise<{ mcpUrl: string; token: string; close(): Promise<void> }> {
  const issuer = await startTestIssuer();
  const server = await startResourceServer({ issuer: issuer.issuer, config });
  const token = await issuer.mint({ claims: { scope } });
  return {
    mcpUrl: server.mcpUrl,
    token,
    async close() {
      await server.close();
      await issuer.close();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { mcpUrl, token } = await startGatehouseMcpServer();
  console.log(JSON.stringify({ mcpUrl, token }));
}
