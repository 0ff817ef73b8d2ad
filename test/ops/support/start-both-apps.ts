/**
 * Both apps in this process, wired as their main.ts files wire them (config from loadConfig, the
 * shared HTTP server, a metrics registry each), but with loggers and registries the test can
 * read: log lines go to an in-memory array.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createAuthServer, type AuthServer } from '../../../apps/auth-server/src/create-auth-server.ts';
import { createResourceServer, type ResourceServer } from '../../../apps/resource-server/src/create-resource-server.ts';
import { loadConfig, type GatehouseConfig } from '../../../apps/shared/config/load-config.ts';
import type { SqlDatabase } from '../../../apps/shared/storage/sql-database.ts';
import { openDatabase } from '../../../apps/shared/storage/open-database.ts';
import { createHttpServer, type HttpServer } from '../../../apps/shared/http-server.ts';
import { createLogger } from '../../../apps/shared/logger.ts';
import { createMetricsRegistry, type Registry } from '../../../apps/shared/metrics.ts';
import { freePort } from '../../helpers/net.ts';
import { ADMIN_PASSWORD } from '../../helpers/start-auth-server.ts';

export interface BothApps {
  issuer: string;
  mcpUrl: string;
  resourceBase: string;
  config: GatehouseConfig;
  auth: AuthServer;
  resource: ResourceServer;
  resourceDb: SqlDatabase;
  registries: { auth: Registry; resource: Registry };
  /** Every log line both apps wrote, parsed. */
  logLines: Array<Record<string, unknown>>;
  /** Every log line both apps wrote, as written. */
  logText(): string;
  close(): Promise<void>;
}

export async function startBothApps({ logLevel = 'info', env = {} }: { logLevel?: string; env?: Record<string, string> } = {}): Promise<BothApps> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-ops-'));
  const authPort = await freePort();
  let resourcePort = await freePort();
  while (resourcePort === authPort) resourcePort = await freePort();
  const issuer = `http://127.0.0.1:${authPort}`;
  const mcpUrl = `http://127.0.0.1:${resourcePort}/mcp`;
  const config = loadConfig({
    DATA_DIR: join(dir, 'data'),
    KEYS_DIR: join(dir, 'keys'),
    ISSUER: issuer,
    RESOURCE_URL: mcpUrl,
    BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
    LOG_LEVEL: logLevel,
    ...env,
  }, dir);
  config.authServer.bcryptCost = 10;

  const written: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      written.push(String(chunk));
      done();
    },
  });
  const logLines: Array<Record<string, unknown>> = [];
  const capture = (name: string) => createLogger(name, config.logLevel, sink);

  const registries = { auth: createMetricsRegistry('auth-server'), resource: createMetricsRegistry('resource-server') };
  const auth = await createAuthServer(config.authServer, capture('auth-server'), { registry: registries.auth });
  const authHttp: HttpServer = createHttpServer(auth.app.callback());
  await authHttp.listen(authPort, '127.0.0.1');
  await auth.createBootstrapAdmin();

  const resourceDb = await openDatabase(config.resourceServer.database, 'resource-server');
  const resource = createResourceServer({ config: config.resourceServer, db: resourceDb, logger: capture('resource-server'), registry: registries.resource });
  const resourceBase = await resource.listen(resourcePort, '127.0.0.1');

  return {
    issuer,
    mcpUrl,
    resourceBase,
    config,
    auth,
    resource,
    resourceDb,
    registries,
    get logLines() {
      logLines.length = 0;
      for (const chunk of written) for (const line of chunk.split('\n')) if (line) logLines.push(JSON.parse(line));
      return logLines;
    },
    logText: () => written.join(''),
    async close() {
      await resource.close();
      await resourceDb.close();
      await authHttp.shutdown(1000);
      await auth.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
