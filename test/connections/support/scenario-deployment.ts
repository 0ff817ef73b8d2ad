/**
 * Both real apps, as `npm start` runs them, for the failing-connection scenarios: an auth-server
 * and the resource server beside it on 127.0.0.1 (SQLite files or one PostgreSQL database), each
 * with a metrics registry the test reads and the resource server on a clock the test moves.
 *
 * `resetAuthServer()` replaces both apps by fresh ones on the same URLs (same ports, empty
 * databases, new keys), as an operator who wiped the data directory or the database does: a
 * client that registered before comes back with a client_id nobody knows.
 *
 * `gatehouse(args)` runs the CLI (run(), what the binary calls) against the running auth-server's database and keys
 * (the environment an operator's shell has: ISSUER, RESOURCE_URL, DATABASE_URL on PostgreSQL).
 */
import { rmSync } from 'node:fs';
import { createMetricsRegistry, type Registry } from '../../../apps/shared/metrics.ts';
import type { GatehouseConfig } from '../../../apps/shared/config/load-config.ts';
import type { SqlDatabase } from '../../../apps/shared/storage/sql-database.ts';
import type { Clock } from '../../../apps/shared/clock.ts';
import { createUser } from '../../admin/support/admin-browser.ts';
import { makeCliDir, runCli, type CliResult } from '../../cli/support/cli-runner.ts';
import { freePort } from '../../helpers/net.ts';
import { startAuthServer, TEST_KEY_ENCRYPTION_KEY, type TestAuthServer } from '../../helpers/start-auth-server.ts';
import { startResourceServerBeside } from '../../helpers/start-resource-server-beside.ts';
import type { TestBackend } from '../../helpers/test-database.ts';
import { TestClock } from '../../helpers/test-clock.ts';

/** The person who connects in the scenarios: may read and write, so a step-up can succeed. */
export const USER = { username: 'maya', password: 'maya password 123' };

/**
 * Access token lifetime in the scenarios, in seconds: short, so that moving the resource
 * server's clock past a token's `exp` stays a small jump.
 */
export const ACCESS_TOKEN_TTL = 300;

export interface ScenarioDeployment {
  backend: TestBackend;
  readonly issuer: string;
  mcpUrl: string;
  /** The current auth-server (replaced by resetAuthServer). */
  readonly auth: TestAuthServer;
  /** The resource server's clock: moved past a token's exp, then set back. */
  resourceClock: TestClock;
  /** The resource server's database (its `mcp_connection_events` table). */
  readonly resourceDb: SqlDatabase;
  registries: { auth: Registry; resource: Registry };
  resetAuthServer(): Promise<void>;
  /** Resolves once both apps have written every event they queued so far. */
  recorded(): Promise<void>;
  /** Runs `gatehouse` (the CLI's run(), in this process) next to the running auth-server. */
  gatehouse(args: string[]): Promise<CliResult>;
  close(): Promise<void>;
}

export interface DeploymentOptions {
  /** False: resetAuthServer is never called (the first server's metrics are read). Default true. */
  reset?: boolean;
  /**
   * Both apps' clock (the stall scenario's, behind the wall clock), as in a deployment where both
   * read one system clock: the tokens the auth-server mints by it are checked by it. Default: the
   * auth-server on the system clock, the resource server on a TestClock of its own at the same time.
   */
  clock?: TestClock;
  /** `connections.stall_after` in seconds (CONNECTIONS_STALL_AFTER). Default: the config's (600). */
  stallAfter?: number;
}

export async function startScenarioDeployment(backend: TestBackend, options: DeploymentOptions = {}): Promise<ScenarioDeployment> {
  const mcpUrl = `http://127.0.0.1:${await freePort()}/mcp`;
  const registries = { auth: createMetricsRegistry('auth-server'), resource: createMetricsRegistry('resource-server') };
  const resourceClock = options.clock ?? TestClock.ahead(0);
  const authClock: Clock | undefined = options.clock;
  const configure = (config: GatehouseConfig) => {
    config.authServer.accessTokenTtl = ACCESS_TOKEN_TTL;
    if (options.stallAfter !== undefined) config.authServer.connections.stallAfter = options.stallAfter;
  };

  const dirs: string[] = [];
  let auth: TestAuthServer;
  let resource: Awaited<ReturnType<typeof startResourceServerBeside>>;
  /**
   * Both apps, fresh, on `port` (the issuer's) or a new one. Metrics: a registry takes each metric
   * once, so only the apps that run last (after a reset, or the first when there is none) get
   * the registries the test reads.
   */
  async function startApps(port: number | undefined, readMetrics: boolean): Promise<void> {
    dirs.push(makeCliDir('gatehouse-connections-'));
    auth = await startAuthServer({ dir: dirs.at(-1), port, backend, env: { RESOURCE_URL: mcpUrl }, configure, clock: authClock, registry: readMetrics ? registries.auth : undefined });
    resource = await startResourceServerBeside(auth, {
      clock: resourceClock,
      registry: readMetrics ? registries.resource : undefined,
      // The first 401 asks for mcp:read only, so a write tool meets the 403 step-up challenge.
      configure: (config) => { config.challengeScopes = 'minimal'; },
    });
    await createUser(auth, USER.username, USER.password, ['mcp:read', 'mcp:write']);
  }
  await startApps(undefined, options.reset === false);

  return {
    backend,
    get issuer() { return auth.issuer; },
    mcpUrl,
    get auth() { return auth; },
    resourceClock,
    get resourceDb() { return resource.db; },
    registries,
    async resetAuthServer() {
      // The resource server restarts too: it would otherwise keep the old issuer's key set until
      // its JWKS cooldown passes, and refuse the new server's tokens meanwhile.
      const port = Number(new URL(auth.issuer).port);
      await resource.close();
      await auth.close();
      await startApps(port, true);
    },
    async recorded() {
      await Promise.all([auth.auth.connectionRecorder.flush(), resource.connectionRecorder.flush()]);
    },
    gatehouse(args) {
      const postgres = auth.config.authServer.database.postgres;
      const env: Record<string, string> = { ISSUER: auth.issuer, RESOURCE_URL: mcpUrl };
      if (postgres) Object.assign(env, { DATABASE_URL: postgres.url, GATEHOUSE_KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY });
      return runCli(auth.dir, args, '', env);
    },
    async close() {
      await resource.close();
      await auth.close();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}
