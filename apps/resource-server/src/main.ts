/**
 * resource-server entry point: config → database → migrations → app → listen.
 */
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../shared/config.ts';
import { MIGRATIONS_ROOT, migrate, openDatabase } from '../../shared/database.ts';
import { createLogger } from '../../shared/logger.ts';
import { createResourceServer } from './create-resource-server.ts';

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(1);
}

const { resourceServer } = config;
const logger = createLogger('resource-server', config.logLevel);
const db = openDatabase(resourceServer.databaseFile);
migrate(db, join(MIGRATIONS_ROOT, 'resource-server'));

const server = createResourceServer({ config: resourceServer, db, logger });
const url = await server.listen(resourceServer.port, resourceServer.host);
logger.info({ listening: url, resource: resourceServer.resource, issuer: resourceServer.issuer }, 'resource-server started');

async function shutdown(signal: string): Promise<void> {
  logger.info({ signal }, 'resource-server stopping');
  await server.close();
  db.close();
  process.exit(0);
}
process.once('SIGINT', () => void shutdown('SIGINT'));
process.once('SIGTERM', () => void shutdown('SIGTERM'));
