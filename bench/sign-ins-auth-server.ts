/**
 * The auth-server as bench/refresh-under-sign-ins.ts runs it, in a process of its own so that the
 * client's 20 sign-in loops do not share its event loop and its CPU time can be read alone:
 * bcrypt cost 12, sign-in throttling out of the way (every sign-in is the same user from one IP),
 * logging at info to /dev/null as bench/gatehouse-auth-server.ts does (every line built and written).
 *
 * Run alone: npx tsx bench/sign-ins-auth-server.ts [--threads N] [--engine bcryptjs]   (prints {"issuer": …}; SIGTERM stops it)
 */
// As the deployed entry point does, first (apps/auth-server/src/provider/quiet-provider-notices.ts).
import '../apps/auth-server/src/provider/quiet-provider-notices.ts';
import { openSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { createLogger } from '../apps/shared/logger.ts';
import { startAuthServer } from '../test/helpers/start-auth-server.ts';

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // `--threads N`: password_hash_threads (default: the config default, one per core).
  const at = process.argv.indexOf('--threads');
  const threads = at > 0 ? Number(process.argv[at + 1]) : undefined;
  // `--engine bcryptjs`: hash with bcryptjs alone, as Gatehouse did before native bcrypt.
  const engine = process.argv.includes('--engine') ? process.argv[process.argv.indexOf('--engine') + 1] as 'bcrypt' | 'bcryptjs' : undefined;
  const server = await startAuthServer({
    passwordHashing: { engine },
    logger: createLogger('auth-server', 'info', pino.destination({ fd: openSync('/dev/null', 'w'), sync: true })),
    configure(config) {
      config.authServer.bcryptCost = 12;
      if (threads !== undefined) config.authServer.passwordHashThreads = threads;
      config.authServer.signInThrottle.maxFailures = 1_000_000;
      config.authServer.signInThrottle.maxFailuresPerIp = 1_000_000;
    },
  });
  // A clean exit on SIGTERM, so that a CPU profile (--cpu-prof) is written.
  process.once('SIGTERM', () => void server.close().finally(() => process.exit(0)));
  console.log(JSON.stringify({ issuer: server.issuer }));
}
