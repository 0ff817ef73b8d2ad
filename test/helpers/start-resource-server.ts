/**
 * Starts a real resource-server for a test: its own SQLite file in a fresh temp dir, migrations
 * applied, listening on 127.0.0.1 port 0. The canonical resource URL is TEST_RESOURCE whatever the
 * port, the way it is behind a proxy: everything absolute must come from configuration.
 */
import type { Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { after, before } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../apps/shared/clock.ts';
import type { ConnectionRecorder } from '../../apps/shared/connection-events.ts';
import type { ResourceServerConfig } from '../../apps/shared/config/resource-server-section.ts';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { testDatabaseSettings, type TestBackend } from './test-database.ts';
import { createLogger, type Logger } from '../../apps/shared/logger.ts';
import type { Registry } from '../../apps/shared/metrics.ts';
import { createResourceServer } from '../../apps/resource-server/src/create-resource-server.ts';
import type { AuditStore } from '../../apps/resource-server/src/storage/audit-store.ts';
import type { IdentityTokens } from '../../apps/resource-server/src/gateway/identity-tokens.ts';
import { startTestIssuer, TEST_RESOURCE, type TestIssuer } from './test-issuer.ts';

export interface RunningResourceServer {
  /** Base URL actually listened on, e.g. http://127.0.0.1:43121 */
  baseUrl: string;
  /** The MCP endpoint on that base URL. */
  mcpUrl: string;
  config: ResourceServerConfig;
  db: SqlDatabase;
  /** The Node HTTP server, for tests that watch its connections. */
  httpServer: Server;
  /** Where the server records connection events (its database unless a recorder was passed). */
  connectionRecorder: ConnectionRecorder;
  /** The tool-call record, for tests that read its table (`flush()` first). */
  audit: AuditStore;
  /** Runs the server's sweep now. */
  sweep(): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  issuer: string;
  config?: Partial<ResourceServerConfig>;
  dangerouslyDisableAuthentication?: boolean;
  maxSessionsPerUser?: number;
  logLevel?: string;
  /** Instead of a silent logger. */
  logger?: Logger;
  /** Where the server's metrics go, for tests that read them. */
  registry?: Registry;
  /** The server's clock (a TestClock), so tests move time instead of sleeping. Default: the system clock. */
  clock?: Clock;
  /** Where connection events go. Default: the server's own. */
  connectionRecorder?: ConnectionRecorder;
  /** Issues identity tokens for forward_identity servers (a stand-in for the auth-server's token exchange). */
  identity?: IdentityTokens;
  /** Default 'sqlite'. 'postgres': a new database in the test cluster, unless `databaseUrl` names one. */
  backend?: TestBackend;
  /** A PostgreSQL database to share with other servers (replicas); implies backend 'postgres'. */
  databaseUrl?: string;
}

export async function startResourceServer({ issuer, config: overrides = {}, logLevel = 'silent', logger, backend, databaseUrl, ...options }: StartOptions): Promise<RunningResourceServer> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rs-'));
  const config: ResourceServerConfig = {
    port: 0,
    host: '127.0.0.1',
    resource: TEST_RESOURCE,
    issuer,
    jwksUri: `${issuer}/oauth/jwks`,
    authorizationServerMetadataUri: `${issuer}/.well-known/oauth-authorization-server`,
    allowedOrigins: [],
    trustProxy: false,
    connections: { retention: 7 * 86400, maxEvents: 100_000, stallAfter: 600 },
    databaseFile: join(dir, 'resource-server.db'),
    database: await testDatabaseSettings(databaseUrl ? 'postgres' : backend ?? 'sqlite', join(dir, 'resource-server.db'), databaseUrl),
    maxBodyBytes: 256 * 1024,
    tokenCacheSize: 10_000,
    sessionIdleTtl: 1800,
    maxSessions: 10_000,
    auditRetention: 30 * 86400,
    maxTokenLifetime: 3600,
    challengeScopes: 'all',
    builtInTools: true,
    servers: [],
    maxProcesses: 64,
    maxProcessesPerUser: 4,
    revocation: { feedUri: `${issuer}/oauth/revocations`, pollInterval: 0.2, maxStaleness: 30 },
    ...overrides,
  };
  const db = await openDatabase(config.database, 'resource-server');
  const server = createResourceServer({ config, db, logger: logger ?? createLogger('resource-server', logLevel), ...options });
  const baseUrl = await server.listen(0, '127.0.0.1');
  return {
    baseUrl,
    mcpUrl: `${baseUrl}${new URL(config.resource).pathname}`,
    config,
    db,
    httpServer: server.httpServer,
    connectionRecorder: server.connectionRecorder,
    audit: server.audit,
    sweep: () => server.sweep(),
    async close() {
      await server.close();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * For a `describe` block: a test issuer and a resource server trusting it (with `config` over the
 * test defaults), started before its tests and closed after them. Read them from the returned
 * object inside the tests.
 */
export function useIssuerAndServer(config?: Partial<ResourceServerConfig>): { issuer: TestIssuer; server: RunningResourceServer } {
  const running = {} as { issuer: TestIssuer; server: RunningResourceServer };
  before(async () => {
    running.issuer = await startTestIssuer();
    running.server = await startResourceServer({ issuer: running.issuer.issuer, config });
  });
  after(async () => {
    await running.server?.close();
    await running.issuer?.close();
  });
  return running;
}
