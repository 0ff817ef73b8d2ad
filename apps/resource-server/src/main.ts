/**
 * resource-server entry point: config → database → migrations → app → metrics (when on) →
 * listen (http or https) → announce; on SIGTERM/SIGINT a graceful stop, then the database closes.
 */
import { announceReady } from '../../shared/announce-ready.ts';
import { loadResourceServerConfig } from '../../shared/config/load-config.ts';
import { openDatabase } from '../../shared/storage/open-database.ts';
import { exitOnStartFailure } from '../../shared/exit-on-start-failure.ts';
import { createLogger } from '../../shared/logger.ts';
import { createMetricsRegistry, serveMetrics } from '../../shared/metrics.ts';
import { onShutdownSignal } from '../../shared/on-shutdown-signal.ts';
import { servingWarnings } from '../../shared/serving-warnings.ts';
import { stdoutDestination } from '../../shared/stdout-destination.ts';
import { createResourceServer } from './create-resource-server.ts';

async function main(): Promise<void> {
  const config = loadResourceServerConfig();
  const { resourceServer } = config;
  // The banner goes through the log's destination too, behind the lines it holds (stdout-destination.ts).
  const stdout = stdoutDestination('resource-server');
  const logger = createLogger('resource-server', config.logLevel, stdout);
  for (const warning of servingWarnings(config, 'resource-server')) logger.warn(warning);
  const db = await openDatabase(resourceServer.database, 'resource-server');

  const registry = config.metrics && createMetricsRegistry('resource-server', { processMetrics: true });
  const server = createResourceServer({ config: resourceServer, db, logger, tls: config.tls, registry });
  const metrics = registry && await serveMetrics(registry, config.metrics!.host, config.metrics!.resourceServerPort);
  // Installed before listening, so a signal that comes as soon as the port opens is handled.
  const timeoutMs = config.shutdownTimeout * 1000;
  onShutdownSignal(logger, timeoutMs + 5000, async () => {
    const drained = await server.shutdown(timeoutMs);
    if (!drained) logger.warn({ timeoutMs }, 'some requests were still running at the shutdown timeout and were cut off');
    await metrics?.close();
    await db.close();
  });

  const url = await server.listen(resourceServer.port, resourceServer.host);
  logger.info({ listening: url, resource: resourceServer.resource, issuer: resourceServer.issuer, metrics: metrics?.url }, 'resource-server started');
  announceReady({ app: 'resource-server', listening: url, publicUrl: new URL(resourceServer.resource).origin, mcpUrl: resourceServer.resource }, stdout);
}

main().catch(exitOnStartFailure('resource-server', 'RESOURCE_PORT, or the metrics port'));
