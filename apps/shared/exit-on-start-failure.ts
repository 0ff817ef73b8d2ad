/**
 * What an app's `main.ts` does with an error that stops it from starting: one line on stderr,
 * prefixed `gatehouse <app>:`, then exit. Written straight to stderr, not through the JSON log,
 * because the operator reading it is at a terminal on day one.
 *
 * - A ConfigError: its message (it names the field and what is expected), exit code 2: starting
 *   again without changing the configuration cannot help.
 * - `listen` failing with EADDRINUSE or EACCES: the address, why, and the settings that choose
 *   the port (`portSettings`), exit code 1; no stack, since nothing in the code is wrong.
 * - The listen host not resolving (ENOTFOUND, EAI_AGAIN), or not an address of this machine
 *   (EADDRNOTAVAIL): the host, why, and the settings that choose it, exit code 1, no stack.
 * - The database unreachable (DatabaseUnavailableError): the database's own words, exit code 1;
 *   no stack, since nothing in the code is wrong.
 * - A directory or file in DATA_DIR or KEYS_DIR it cannot use (DeploymentFileError): the
 *   setting, the path, why and what to do, exit code 1, no stack.
 * - A PostgreSQL migration that could not lock a table another session holds
 *   (MigrationBlockedError): the migration, the sessions holding locks on its tables and how to
 *   find them, exit code 1, no stack.
 * - Anything else: the stack, exit code 1.
 *
 * Errors after start are not handled here: Node's default applies (the stack on stderr, exit 1).
 */
import { ConfigError } from './config/config-error.ts';
import { databaseErrorReason, DatabaseUnavailableError } from './storage/database-unavailable-error.ts';
import { DeploymentFileError } from './storage/deployment-file-error.ts';
import { MigrationBlockedError } from './storage/migration-blocked-error.ts';

export function exitOnStartFailure(app: 'auth-server' | 'resource-server', portSettings: string): (err: unknown) => never {
  const say = (line: string) => process.stderr.write(`gatehouse ${app}: ${line}\n`);
  return function exitOnStartFailureHandler(err: unknown): never {
    if (err instanceof ConfigError) {
      say(err.message);
      process.exit(2);
    }
    const { code, syscall, address, port, hostname } = err as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
    if (syscall === 'listen' && (code === 'EADDRINUSE' || code === 'EACCES')) {
      say(`cannot listen on ${address}:${port} (${code === 'EADDRINUSE' ? 'the port is in use' : 'permission denied'}); choose another port (${portSettings})`);
      process.exit(1);
    }
    const unresolved = syscall === 'getaddrinfo' && (code === 'ENOTFOUND' || code === 'EAI_AGAIN');
    if (unresolved || (syscall === 'listen' && code === 'EADDRNOTAVAIL')) {
      const why = unresolved ? 'the host name does not resolve' : 'no network interface of this machine has that address';
      say(`cannot listen on ${JSON.stringify(unresolved ? hostname : address)} (${why}); set LISTEN_HOST (METRICS_HOST for the metrics ports) to an address of this machine, such as 127.0.0.1, or 0.0.0.0 for every interface`);
      process.exit(1);
    }
    if (err instanceof DatabaseUnavailableError) {
      say(`cannot reach the database: ${databaseErrorReason(err)}`);
      process.exit(1);
    }
    if (err instanceof DeploymentFileError || err instanceof MigrationBlockedError) {
      say(err.message);
      process.exit(1);
    }
    say(`failed to start: ${(err as Error).stack ?? err}`);
    process.exit(1);
  };
}
