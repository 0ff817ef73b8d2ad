/**
 * Starts a real auth-server for a test: real SQLite file (or PostgreSQL database, with
 * `backend: 'postgres'`) and keys in a temp dir, listening on
 * 127.0.0.1 on an ephemeral port (the issuer is known only after listening, so the server is
 * bound first and the app attached afterwards). `restart()` stops it and starts it again on the
 * same port and the same files, as a process restart would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type GatehouseConfig } from '../../apps/shared/config/load-config.ts';
import { createLogger, type Logger } from '../../apps/shared/logger.ts';
import { createAuthServer, type AuthServer, type AuthServerOptions } from '../../apps/auth-server/src/create-auth-server.ts';
import { createTestPostgresDatabase, type TestBackend } from './test-database.ts';

export const ADMIN_PASSWORD = 'correct horse battery staple';
/**
 * GATEHOUSE_KEY_ENCRYPTION_KEY of every test server on PostgreSQL unless a test sets its own: one
 * value for all, so servers started on one database as replicas can read each other's keys.
 */
export const TEST_KEY_ENCRYPTION_KEY = Buffer.from('gatehouse test key encryption k!').toString('base64');

export interface StartOptions {
  /** Extra environment for loadConfig (e.g. RESOURCE_URL, GATEHOUSE_CONFIG). */
  env?: Record<string, string>;
  /** Adjusts the loaded config before the server is built. */
  configure?: (config: GatehouseConfig) => void;
  /** Where the server logs (default: nowhere). */
  logger?: Logger;
  /** Replaces the SQLite adapter (benchmarks only). */
  adapterOverride?: AuthServerOptions['adapter'];
  /** Test-only fetch options for Client ID Metadata Documents (loopback, test CA). */
  metadataFetch?: AuthServerOptions['metadataFetch'];
  /** Reuse an existing directory (data/ and keys/ inside it). */
  dir?: string;
  /** Serve https with this certificate; the issuer is then `https://localhost:<port>`. */
  tls?: { key: string; cert: string };
  /** The server's clock (a TestClock), so tests move time instead of sleeping. Default: the system clock. */
  clock?: AuthServerOptions['clock'];
  /** Where the server's metrics go. */
  registry?: AuthServerOptions['registry'];
  /** Where connection events go. Default: the server's database. */
  connectionRecorder?: AuthServerOptions['connectionRecorder'];
  /** How passwords are hashed (the bcrypt engine). */
  passwordHashing?: AuthServerOptions['passwordHashing'];
  /** Default 'sqlite'. 'postgres': a new database in the test cluster, unless `databaseUrl` names one. */
  backend?: TestBackend;
  /** A PostgreSQL database to share with other servers (replicas); implies backend 'postgres'. */
  databaseUrl?: string;
  /** Listen on this port (a fresh server on the issuer of one that was closed); default an ephemeral one. */
  port?: number;
}

export interface TestAuthServer {
  issuer: string;
  dir: string;
  config: GatehouseConfig;
  auth: AuthServer;
  /** The Node HTTP server listening now (restart() makes a new one), for tests that watch its requests. */
  readonly httpServer: Server;
  restart(): Promise<void>;
  close(): Promise<void>;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/**
 * Ends every connection and stops listening. Then one turn of the event loop (its poll phase):
 * on loopback the client end of each connection has its FIN at once, and that turn lets a client
 * in this process see its pooled keep-alive sockets closed. Without it, a server started at once
 * on the same port (a restart, a restore) could be reached by nothing: starting one need not
 * pass through a poll phase, and undici sent the next request on a closed socket ('other side
 * closed').
 */
async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await new Promise((resolve) => setImmediate(resolve));
}

export async function startAuthServer(options: StartOptions = {}): Promise<TestAuthServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'gatehouse-auth-'));
  const { tls } = options;
  const createServer = (): Server => (tls ? createHttpsServer(tls) : createHttpServer());
  let server = createServer();
  const port = await listen(server, options.port ?? 0);
  const issuer = tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`;
  const databaseUrl = options.databaseUrl ?? (options.backend === 'postgres' ? await createTestPostgresDatabase() : undefined);
  const config = loadConfig({
    ...(databaseUrl ? { GATEHOUSE_KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY } : {}),
    DATA_DIR: join(dir, 'data'),
    KEYS_DIR: join(dir, 'keys'),
    ISSUER: issuer,
    BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
    ...options.env,
  }, dir);
  config.authServer.bcryptCost = 10;
  // Tests send far more from 127.0.0.1 than any person would; rate-limit tests switch them on.
  config.authServer.rateLimits.enabled = false;
  if (databaseUrl) {
    const postgres = { url: databaseUrl, maxConnections: 5 };
    config.authServer.database = { ...config.authServer.database, postgres };
    config.resourceServer.database = { ...config.resourceServer.database, postgres };
  }
  options.configure?.(config);

  const logger = options.logger ?? createLogger('auth-server', 'silent');
  const serverOptions: AuthServerOptions = { adapter: options.adapterOverride, metadataFetch: options.metadataFetch, clock: options.clock, registry: options.registry, connectionRecorder: options.connectionRecorder, passwordHashing: options.passwordHashing };
  let auth: AuthServer;
  try {
    auth = await createAuthServer(config.authServer, logger, serverOptions);
    // As main.ts does once listening (the port is already bound here).
    await auth.createBootstrapAdmin();
  } catch (err) {
    // A server that failed to start must not keep the test process alive with its open port.
    await closeServer(server);
    throw err;
  }
  server.on('request', auth.app.callback());

  const handle: TestAuthServer = {
    issuer,
    dir,
    config,
    auth,
    get httpServer() {
      return server;
    },
    async restart() {
      await closeServer(server);
      await auth.close();
      server = createServer();
      await listen(server, port);
      auth = await createAuthServer(config.authServer, logger, serverOptions);
      await auth.createBootstrapAdmin();
      handle.auth = auth;
      server.on('request', auth.app.callback());
    },
    async close() {
      await closeServer(server);
      await auth.close();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}
