/**
 * Starts the real resource-server next to a test auth-server, on the port its RESOURCE_URL names
 * (start the auth-server with RESOURCE_URL = `http://127.0.0.1:${port}/mcp`, port from freePort()).
 * `configure` adjusts its config before it starts (e.g. the revocation feed's staleness). Closing
 * and calling this again is a restart: a new process state on the same port and database file.
 */
import { join } from 'node:path';
import { createResourceServer } from '../../apps/resource-server/src/create-resource-server.ts';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import { createLogger, type Logger } from '../../apps/shared/logger.ts';
import type { Clock } from '../../apps/shared/clock.ts';
import type { Registry } from '../../apps/shared/metrics.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import type { ConnectionRecorder } from '../../apps/shared/connection-events.ts';
import type { ResourceServerConfig } from '../../apps/shared/config/resource-server-section.ts';
import type { TestAuthServer } from './start-auth-server.ts';

export interface BesideOptions {
  configure?: (config: ResourceServerConfig) => void;
  /** The resource server's clock (a TestClock; often the auth-server's too). Default: the system clock. */
  clock?: Clock;
  /** Where its metrics go, for tests that read them. */
  registry?: Registry;
  /** Where connection events go. Default: the server's own. */
  connectionRecorder?: ConnectionRecorder;
  /** Instead of a silent logger, for tests that read its lines. */
  logger?: Logger;
}

export async function startResourceServerBeside(auth: TestAuthServer, options: BesideOptions = {}): Promise<{ mcpUrl: string; db: SqlDatabase; connectionRecorder: ConnectionRecorder; close(): Promise<void> }> {
  const mcpUrl = auth.config.authServer.resource;
  const port = Number(new URL(mcpUrl).port);
  const config: ResourceServerConfig = {
    ...auth.config.resourceServer,
    port,
    issuer: auth.issuer,
    jwksUri: `${auth.issuer}/oauth/jwks`,
    authorizationServerMetadataUri: `${auth.issuer}/.well-known/oauth-authorization-server`,
    revocation: { ...auth.config.resourceServer.revocation, feedUri: `${auth.issuer}/oauth/revocations` },
    resource: mcpUrl,
    databaseFile: join(auth.dir, 'data', 'resource-server.db'),
    database: { ...auth.config.resourceServer.database, sqliteFile: join(auth.dir, 'data', 'resource-server.db') },
  };
  options.configure?.(config);
  const db = await openDatabase(config.database, 'resource-server');
  const server = createResourceServer({
    config, db, logger: options.logger ?? createLogger('resource-server', 'silent'), clock: options.clock, registry: options.registry, connectionRecorder: options.connectionRecorder,
  });
  await server.listen(port, '127.0.0.1');
  return {
    mcpUrl,
    db,
    connectionRecorder: server.connectionRecorder,
    async close() {
      await server.close();
      await db.close();
    },
  };
}
