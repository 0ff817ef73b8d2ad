/**
 * auth-server entry point: config → server → metrics (when on) → listen (http or https) → first
 * admin (only once listening) → announce; on SIGTERM/SIGINT a graceful stop, then the database closes.
 */
// First: it must be in place before oidc-provider is loaded (quiet-provider-notices.ts says why).
import './provider/quiet-provider-notices.ts';
import { announceReady } from '../../shared/announce-ready.ts';
import { loadAuthServerConfig } from '../../shared/config/load-config.ts';
import { createHttpServer } from '../../shared/http-server.ts';
import { exitOnStartFailure } from '../../shared/exit-on-start-failure.ts';
import { createLogger } from '../../shared/logger.ts';
import { createMetricsRegistry, serveMetrics } from '../../shared/metrics.ts';
import { onShutdownSignal } from '../../shared/on-shutdown-signal.ts';
import { assertServable, servingWarnings } from '../../shared/serving-warnings.ts';
import { stdoutDestination } from '../../shared/stdout-destination.ts';
import { createAuthServer } from './create-auth-server.ts';

async function main(): Promise<void> {
  const config = loadAuthServerConfig();
  assertServable(config);
  const { authServer } = config;
  // The banner goes through the log's destination too, behind the lines it holds (stdout-destination.ts).
  const stdout = stdoutDestination('auth-server');
  const logger = createLogger('auth-server', config.logLevel, stdout);
  for (const warning of servingWarnings(config, 'auth-server')) logger.warn(warning);
  const registry = config.metrics && createMetricsRegistry('auth-server', { processMetrics: true });
  const server = await createAuthServer(authServer, logger, { registry });
  const http = createHttpServer(server.app.callback(), config.tls);
  const metrics = registry && await serveMetrics(registry, config.metrics!.host, config.metrics!.authServerPort);
  // Installed before listening, so a signal that comes as soon as the port opens is handled.
  const timeoutMs = config.shutdownTimeout * 1000;
  onShutdownSignal(logger, timeoutMs + 5000, async () => {
    const drained = await http.shutdown(timeoutMs);
    if (!drained) logger.warn({ timeoutMs }, 'some requests were still running at the shutdown timeout and were cut off');
    await metrics?.close();
    await server.close();
  });

  const url = await http.listen(authServer.port, authServer.host);
  logger.info({ issuer: authServer.issuer, listening: url, metrics: metrics?.url }, 'auth-server listening');
  // Only now that it serves: a start that failed earlier created no admin whose password nobody saw.
  const created = await server.createBootstrapAdmin();
  const generated = created?.generatedPassword;
  const passwordFile = created?.passwordFile;
  announceReady({
    app: 'auth-server',
    listening: url,
    publicUrl: authServer.issuer,
    // Never through the (shipped, collected) JSON log; on stdout only when that is a terminal.
    firstAdmin: generated && passwordFile ? { username: created.username, password: generated, passwordFile } : undefined,
    unusedAdmin: generated ? undefined : await server.unusedBootstrapAdmin(),
    cliEnvironment: authServer.cliEnvironment,
  }, stdout);
}

main().catch(exitOnStartFailure('auth-server', 'AUTH_PORT, or the metrics port'));
