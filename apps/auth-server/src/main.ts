/** auth-server entry point: load config → build the server → listen. */
import { ConfigError, loadConfig } from '../../shared/config.ts';
import { createLogger } from '../../shared/logger.ts';
import { createAuthServer } from './create-auth-server.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('auth-server', config.logLevel);
  const server = await createAuthServer(config.authServer, logger);
  const { port, host, issuer } = config.authServer;
  const http = server.app.listen(port, host, () => {
    logger.info({ issuer, listen: `${host}:${port}` }, 'auth-server listening');
    if (server.bootstrap?.generatedPassword) {
      // Shown once, on the terminal only: never through the (shipped, collected) JSON log.
      process.stdout.write(`\nFirst start: created admin user "${server.bootstrap.username}" with password: ${server.bootstrap.generatedPassword}\nSign in at ${issuer} and change it.\n\n`);
    }
  });
  const stop = () => {
    http.close(() => void server.close().then(() => process.exit(0)));
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`gatehouse auth-server: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`gatehouse auth-server: failed to start: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
