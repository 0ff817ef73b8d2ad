/**
 * `gatehouse`: the administration command line. Runs one command line: config (from `env`) →
 * context → one command; the commands live in commands/, over the management/ services the admin
 * pages (web/admin/) use too. main.ts runs it as a process; tests run it in-process with their
 * own streams.
 *
 * Exit codes: 0 done, 1 failed or refused (with a message), 2 the command line was wrong.
 * Passwords come from a prompt or stdin, never from arguments.
 */
import { ConfigError } from '../../../shared/config/config-error.ts';
import { loadAuthServerConfig } from '../../../shared/config/load-config.ts';
import { AdminError } from '../management/admin-error.ts';
import { CliContext, type CliIo } from './cli-context.ts';
import { CliError, EXIT, UsageError } from './cli-errors.ts';
import type { CommandGroup } from './command.ts';
import { hostsCommand, redirectsCommand, schemesCommand } from './commands/allow-list-commands.ts';
import { auditCommand } from './commands/audit-command.ts';
import { clientsCommand } from './commands/clients-command.ts';
import { doctorCommand } from './commands/doctor-command.ts';
import { grantsCommand } from './commands/grants-command.ts';
import { hashPasswordCommand } from './commands/hash-password-command.ts';
import { idpsCommand } from './commands/idps-command.ts';
import { keysCommand } from './commands/keys-command.ts';
import { migrateToPostgresCommand } from './commands/migrate-to-postgres-command.ts';
import { usersCommand } from './commands/users-command.ts';

const GROUPS: Record<string, CommandGroup> = {
  users: usersCommand,
  'hash-password': hashPasswordCommand,
  clients: clientsCommand,
  redirects: redirectsCommand,
  schemes: schemesCommand,
  hosts: hostsCommand,
  idps: idpsCommand,
  grants: grantsCommand,
  keys: keysCommand,
  audit: auditCommand,
  'migrate-to-postgres': migrateToPostgresCommand,
  doctor: doctorCommand,
};

export function usage(): string {
  const lines = Object.values(GROUPS).flatMap((g) => g.usage).map(usageLine);
  return [
    'usage: gatehouse [--json] COMMAND …',
    '',
    ...lines,
    '',
    'Works on the auth-server\'s database and key files, found through the same configuration as the',
    'server (GATEHOUSE_CONFIG, DATA_DIR, KEYS_DIR, …), whether the server runs or not.',
    '--json prints machine-readable output. Exit codes: 0 done, 1 failed, 2 wrong command line.',
  ].join('\n');
}

/** Continuation lines (starting with spaces) explain the line above. */
const usageLine = (line: string) => (line.startsWith(' ') ? `            ${line}` : `  gatehouse ${line}`);

const SECRET_OPTION = /^--?(password|passwd|pass|secret|client-secret)(=|$)/i;

/**
 * Runs `argv` (the arguments after `gatehouse`) and resolves to the exit code; it never exits the
 * process. `env` goes to loadAuthServerConfig, the one reader of the environment. The database and the
 * bcrypt worker the command opened are closed before it resolves (the provider that validates
 * client metadata holds nothing open: it never listens), so it can run many times in one process.
 */
export async function run(argv: string[], io: CliIo, env: NodeJS.ProcessEnv): Promise<number> {
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json');
  const fail = (code: number, message: string) => {
    io.stderr.write(`gatehouse: ${message}\n`);
    return code;
  };
  if (args.length === 0 || args[0] === '--help' || args[0] === '-h' || args[0] === 'help') {
    io.stdout.write(`${usage()}\n`);
    return args.length === 0 ? EXIT.usage : EXIT.ok;
  }
  if (args.some((a) => SECRET_OPTION.test(a))) {
    return fail(EXIT.usage, 'passwords and secrets are read from a prompt or from stdin, never from the command line');
  }
  const group = GROUPS[args[0]!];
  // A group with a '' subcommand is a command of its own (`hash-password`, `migrate-to-postgres`).
  const single = group?.subcommands[''] !== undefined;
  const subcommandName = single ? '' : (args[1] ?? '');
  const subcommand = group?.subcommands[subcommandName];
  if (!group || !subcommand || (subcommandName === '' && !single)) {
    const known = group ? group.usage.map(usageLine).join('\n') : usage();
    return fail(EXIT.usage, `${group ? 'unknown or missing subcommand' : 'unknown command'}: ${args.slice(0, 2).join(' ')}\n${known}`);
  }

  let context: CliContext | undefined;
  try {
    context = new CliContext(group.usesConfig === false ? undefined : loadAuthServerConfig(env), io, json);
    if (group.usesDatabase !== false) await context.openDatabase();
    await subcommand(args.slice(single ? 1 : 2), context);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof UsageError) return fail(EXIT.usage, `${err.message}\n${group.usage.map(usageLine).join('\n')}`);
    if (err instanceof AdminError) return fail(EXIT.failure, err.error_description ?? err.message);
    if (err instanceof CliError || err instanceof ConfigError) return fail(EXIT.failure, err.message);
    return fail(EXIT.failure, `failed: ${(err as Error).stack ?? String(err)}`);
  } finally {
    await context?.close();
  }
}
