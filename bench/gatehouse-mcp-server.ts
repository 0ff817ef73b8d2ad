/**
 * Gatehouse's resource server as the MCP benchmark runs it, in a process of its own: the real
 * resource-server (SQLite in a temp dir, the revocation feed followed) trusting a test issuer
 * that runs beside it (its JWKS and feed), and a token that issuer minted for the client.
 *
 * As deployed by default: one JSON log line per request at info (written to /dev/null, so the
 * line is built and written as in production but nobody's terminal pays for it), the revocation
 * feed polled every 2 s (the config default), metrics counted into a registry nobody reads.
 *
 * Run alone: npx tsx bench/gatehouse-mcp-server.ts [--database-url postgres://…]   (prints {"mcpUrl": …, "token": …})
 */
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { createLogger } from '../apps/shared/logger.ts';
import type { ResourceServerConfig } from '../apps/shared/config/resource-server-section.ts';
import { startResourceServer } from '../test/helpers/start-resource-server.ts';
import { startTestIssuer } from '../test/helpers/test-issuer.ts';

export interface GatehouseMcpServerOptions {
  /** Configuration over the test defaults (e.g. servers behind the gateway). */
  config?: Partial<ResourceServerConfig>;
  /** The scopes of the client's token. Default: every MCP scope. */
  scope?: string;
  /** A PostgreSQL database to keep the data in. Default: SQLite in a temp dir. */
  databaseUrl?: string;
}

export async function startGatehouseMcpServer({ config, scope = 'mcp:read mcp:write mcp:admin', databaseUrl }: GatehouseMcpServerOptions = {}): Promise<{ mcpUrl: string; token: string; close(): Promise<void> }> {
  const issuer = await startTestIssuer();
  const revocation = { feedUri: `${issuer.issuer}/oauth/revocations`, pollInterval: 2, maxStaleness: 30 };
  // Written as the apps write their lines (stdout-destination.ts: a synchronous write per line),
  // to a sink that costs nothing to read. sonic-boom's async mode, used here before, handed each
  // line to a libuv worker thread and back: a thread hop per request that Gatehouse does not make.
  const logger = createLogger('resource-server', 'info', pino.destination({ dest: '/dev/null', sync: true }));
  const server = await startResourceServer({ issuer: issuer.issuer, config: { revocation, ...config }, databaseUrl, logger });
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
  // `--database-url URL`: on PostgreSQL (bench/storage-backends.ts).
  const at = process.argv.indexOf('--database-url');
  const { mcpUrl, token, close } = await startGatehouseMcpServer({ databaseUrl: at > 0 ? process.argv[at + 1] : undefined });
  // A clean exit on SIGTERM, so that a CPU profile (--cpu-prof) is written.
  process.once('SIGTERM', () => void close().finally(() => process.exit(0)));
  console.log(JSON.stringify({ mcpUrl, token }));
}
