/**
 * What an app's `main.ts` does with an error that stops it from starting: one line on stderr,
 * prefixed `gatehouse <app>:`, then exit. Written straight to stderr, not through the JSON log,
 * because the operator reading it is at a terminal on day one.
 *
 * - A ConfigError: its message (it names the field and what is expected), exit code 2: starting
 *   again without changing the configuration cannot help.
 * - `listen` failing with EADDRINUSE or EACCES: the address, why, and the settings that choose
 *   the port (`portSettings`), exit code 1; no stack, since nothing in the code is wrong.
 * - The database unreachable (DatabaseUnavailableError): the database's own words, exit code 1;
 *   no stack, since nothing in the code is wrong.
 * - Anything else: the stack, exit code 1.
 *
 * Errors after start are not handled here: Node's default applies (the stack on stderr, exit 1).
 */
import { ConfigError } from './config/config-error.ts';
import { databaseErrorReason, DatabaseUnavailableError } from './storage/database-unavailable-error.ts';

export function exitOnStartFailure(app: 'auth-server' | 'resource-server', portSettings: string): (err: unknown) => never {
  const say = (line: string) => process.stderr.write(`gatehouse ${app}: ${line}\n`);
  return function exitOnStartFailureHandler(err: unknown): never {
    if (err instanceof ConfigError) {
      say(err.message);
      process.exit(2);
    }
    const { code, syscall, address, port } = err as NodeJS.ErrnoException & { address?: string; port?: number };
    if (syscall === 'listen' && (code === 'EADDRINUSE' || code === 'EACCES')) {
      say(`cannot listen on ${address}:${port} (${code === 'EADDRINUSE' ? 'the port is in use' : 'permission denied'}); choose another port (${portSettings})`);
      process.exit(1);
    }
    if (err instanceof DatabaseUnavailableError) {
      say(`cannot reach the database: ${databaseErrorReason(err)}`);
      process.exit(1);
    }
    say(`failed to start: ${(err as Error).stack ?? err}`);
    process.exit(1);
  };
}
