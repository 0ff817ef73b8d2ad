/**
 * Gatehouse's auth server as the token benchmark runs it, in a process of its own and as it is
 * deployed: the real auth-server (SQLite in a temp dir unless `--database-url`, logging at info
 * as `npm start` does — to /dev/null here, so the bench's terminal stays readable but every line
 * is still built and written; rate limits on), with the test defaults' bootstrap admin.
 *
 * Run alone: npx tsx bench/gatehouse-auth-server.ts [--memory] [--metrics] [--database-url URL]
 *   prints {"issuer": …}. `--memory`: the in-memory Map adapter instead of the database (an
 *   internal comparison only, never the baseline). `--metrics`: metrics switched on as `npm start`
 *   does (process metrics sampled, the registry served on a port of its own).
 */
// As the deployed entry point does, first (apps/auth-server/src/provider/quiet-provider-notices.ts).
import '../apps/auth-server/src/provider/quiet-provider-notices.ts';
import { openSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { createLogger } from '../apps/shared/logger.ts';
import { createMetricsRegistry, serveMetrics } from '../apps/shared/metrics.ts';
import { startAuthServer } from '../test/helpers/start-auth-server.ts';
import { createMapAdapter } from './map-adapter.ts';

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const at = process.argv.indexOf('--database-url');
  const logger = createLogger('auth-server', 'info', pino.destination({ fd: openSync('/dev/null', 'w'), sync: true }));
  const registry = process.argv.includes('--metrics') ? createMetricsRegistry('auth-server', { processMetrics: true }) : undefined;
  if (registry) await serveMetrics(registry, '127.0.0.1', 0);
  const server = await startAuthServer({
    logger,
    registry,
    adapterOverride: process.argv.includes('--memory') ? createMapAdapter() : undefined,
    databaseUrl: at > 0 ? process.argv[at + 1] : undefined,
    // Rate limits on, as deployed (the test helper switches them off), with a token bucket no
    // benchmark client empties: every request still takes from it, none is refused.
    configure(config) {
      config.authServer.rateLimits.enabled = true;
      config.authServer.rateLimits.token = { max: 1_000_000, window: 1 };
    },
  });
  // A clean exit on SIGTERM, so that a CPU profile (--cpu-prof) is written.
  process.once('SIGTERM', () => void server.close().finally(() => process.exit(0)));
  console.log(JSON.stringify({ issuer: server.issuer }));
}
