/**
 * The auth-server as bench/refresh-under-sign-ins.ts runs it, in a process of its own so that the
 * client's 20 sign-in loops do not share its event loop and its CPU time can be read alone:
 * bcrypt cost 12, sign-in throttling out of the way (every sign-in is the same user from one IP).
 *
 * Run alone: npx tsx bench/sign-ins-auth-server.ts [--threads N]   (prints {"issuer": …}; SIGTERM stops it)
 */
import { pathToFileURL } from 'node:url';
import { startAuthServer } from '../test/helpers/start-auth-server.ts';

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // `--threads N`: password_hash_threads (default: the config default, one per core).
  const at = process.argv.indexOf('--threads');
  const threads = at > 0 ? Number(process.argv[at + 1]) : undefined;
  const server = await startAuthServer({
    configure(config) {
      config.authServer.bcryptCost = 12;
      if (threads !== undefined) config.authServer.passwordHashThreads = threads;
      config.authServer.signInThrottle.maxFailures = 1_000_000;
      config.authServer.signInThrottle.maxFailuresPerIp = 1_000_000;
    },
  });
  process.once('SIGTERM', () => {
    void server.close().then(() => process.exit(0));
  });
  console.log(JSON.stringify({ issuer: server.issuer }));
}
