/**
 * `gatehouse`: the administration command line. Runs one command line: config (from `env`) →
 * context → one command; the commands live in commands/, over the management/ services the admin
 * pages (web/admin/) use too. main.ts runs it as a process; tests run it in-process with their
 * own streams.
 *
 * Exit codes: 0 done, 1 failed or refused (with a message), 2 the command line was wrong,
 * 128 + N stopped by signal N (cli-errors.ts).
 * Passwords come from a prompt or stdin, never from arguments.
 */
import { ConfigError } from '../../../shared/config/config-error.ts';
import { escapeControlCharacters } from '../../../shared/escape-control-characters.ts';
import { DeploymentFileError } from '../../../shared/storage/deployment-file-error.ts';
import { MigrationBlockedError } from '../../../shared/storage/migration-blocked-error.ts';
import { loadAuthServerConfig, type AuthServerAppConfig } from '../../../shared/config/load-config.ts';
import { AdminError } from '../management/admin-error.ts';
import { KeyDecryptionError } from '../keys/key-encryption.ts';
import { keysDoNotDecrypt } from '../keys/open-key-store.ts';
import { CliContext, type CliIo } from './cli-context.ts';
import { CliError, EXIT, InterruptedError, migrationBlocked, UsageError } from './cli-errors.ts';
import type { CommandGroup } from './command.ts';
import { INVOCATION } from './invocation.ts';
import { hostsCommand, redirectsCommand, schemesCommand } from './commands/allow-list-commands.ts';
import { auditCommand } from './commands/audit-command.ts';
import { backupCommand } from './commands/backup-command.ts';
import { clientsCommand } from './commands/clients-command.ts';
import { connectionsCommand } from './commands/connections-command.ts';
import { doctorCommand } from './commands/doctor-command.ts';
import { grantsCommand } from './commands/grants-command.ts';
import { hashPasswordCommand } from './commands/hash-password-command.ts';
import { idpsCommand } from './commands/idps-command.ts';
import { keysCommand } from './commands/keys-command.ts';
import { migrateToPostgresCommand } from './commands/migrate-to-postgres-command.ts';
import { servicesCommand } from './commands/services-command.ts';
import { usersCommand } from './commands/users-command.ts';

const GROUPS: Record<string, CommandGroup> = {
  users: usersCommand,
  'hash-password': hashPasswordCommand,
  clients: clientsCommand,
  services: servicesCommand,
  redirects: redirectsCommand,
  schemes: schemesCommand,
  hosts: hostsCommand,
  idps: idpsCommand,
  grants: grantsCommand,
  keys: keysCommand,
  audit: auditCommand,
  connections: connectionsCommand,
  backup: backupCommand,
  'migrate-to-postgres': migrateToPostgresCommand,
  doctor: doctorCommand,
};

export function usage(): string {
  const lines = Object.values(GROUPS).flatMap((g) => g.usage).map(usageLine);
  return [
    `usage: ${INVOCATION} [--json] COMMAND …`,
    '',
    ...lines,
    '',
    'Works on the auth-server\'s database and key files, found through the same configuration as the',
    'server (GATEHOUSE_CONFIG, DATA_DIR, KEYS_DIR, …), whether the server runs or not.',
    '--json prints machine-readable output (npx keeps stdout clean for a pipe, unlike `npm run`).',
    'An argument that starts with - goes after -- (`… clients remove -- -x1`), or as --option=-value.',
    'COMMAND --help shows one command. Exit codes: 0 done, 1 failed or refused, 2 wrong command line,',
    '128 + N stopped by signal N (130: Ctrl-C).',
    'An unexpected failure is one line; LOG_LEVEL=debug adds its stack trace.',
  ].join('\n');
}

/** Continuation lines (starting with spaces) explain the line above. */
const usageLine = (line: string) => (line.startsWith(' ') ? `                ${line}` : `  ${INVOCATION} ${line}`);

/** The usage lines of one subcommand (with their continuation lines), or of the whole group. */
function usageOf(group: CommandGroup, command: string): string {
  const own: string[] = [];
  let inside = false;
  for (const line of group.usage) {
    if (!line.startsWith(' ')) inside = line === command || line.startsWith(`${command} `);
    if (inside) own.push(line);
  }
  return (own.length > 0 ? own : group.usage).map(usageLine).join('\n');
}

const SECRET_OPTION = /^--?(password|passwd|pass|secret|client-secret)(=|$)/i;
const HELP = new Set(['--help', '-h']);

/**
 * Splits off `--` and what follows it: those are arguments (a client id may start with `-`),
 * never options, so `--json`, `--help` and the secret check look only at what comes before.
 */
function splitAtEndOfOptions(argv: string[]): { options: string[]; rest: string[] } {
  const end = argv.indexOf('--');
  return end === -1 ? { options: argv, rest: [] } : { options: argv.slice(0, end), rest: argv.slice(end) };
}

/**
 * Runs `argv` (the arguments after `gatehouse`) and resolves to the exit code; it never exits the
 * process. `env` goes to loadAuthServerConfig, the one reader of the environment. The database and the
 * bcrypt worker the command opened are closed before it resolves (the provider that validates
 * client metadata holds nothing open: it never listens), so it can run many times in one process.
 */
export async function run(argv: string[], io: CliIo, env: NodeJS.ProcessEnv): Promise<number> {
  const { options, rest } = splitAtEndOfOptions(argv);
  const json = options.includes('--json');
  const args = [...options.filter((a) => a !== '--json'), ...rest];
  const fail = (code: number, message: string) => {
    // A refusal may name what others stored (a username, a client's name): shown, never obeyed.
    io.stderr.write(`gatehouse: ${escapeControlCharacters(message, '\n')}\n`);
    return code;
  };
  if (args.length === 0) return fail(EXIT.usage, `no command given\n${usage()}`);
  if (HELP.has(args[0]!) || args[0] === 'help') {
    io.stdout.write(`${usage()}\n`);
    return EXIT.ok;
  }
  if (options.some((a) => SECRET_OPTION.test(a))) {
    return fail(EXIT.usage, 'passwords and secrets are read from a prompt or from stdin, never from the command line');
  }
  const groupName = args[0]!;
  const group = Object.hasOwn(GROUPS, groupName) ? GROUPS[groupName] : undefined;
  // A group with a '' subcommand is a command of its own (`hash-password`, `backup`, `migrate-to-postgres`).
  const single = group?.subcommands[''] !== undefined;
  const subcommandName = single ? '' : (args[1] ?? '');
  const command = single ? groupName : `${groupName} ${subcommandName}`;
  if (group && options.some((a) => HELP.has(a))) {
    io.stdout.write(`${usageOf(group, command)}\n`);
    return EXIT.ok;
  }
  const subcommand = group && Object.hasOwn(group.subcommands, subcommandName) ? group.subcommands[subcommandName] : undefined;
  if (!group || !subcommand || (subcommandName === '' && !single)) {
    const known = group ? group.usage.map(usageLine).join('\n') : usage();
    const what = !group ? `unknown command: ${groupName}` : subcommandName === '' ? `missing subcommand after ${groupName}` : `unknown subcommand: ${command}`;
    return fail(EXIT.usage, `${what}\n${known}`);
  }

  let config: AuthServerAppConfig | undefined;
  let context: CliContext | undefined;
  try {
    config = group.usesConfig === false ? undefined : loadAuthServerConfig(env);
    context = new CliContext(config, io, json);
    if (group.usesDatabase !== false) await context.openDatabase();
    await subcommand(args.slice(single ? 1 : 2), context);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof UsageError) return fail(EXIT.usage, `${err.message}\n${usageOf(group, command)}`);
    // One line: its values (a stored username) cannot break it.
    if (err instanceof InterruptedError) return fail(err.exitCode, err.message);
    if (err instanceof AdminError) return fail(EXIT.failure, escapeControlCharacters(err.error_description ?? err.message));
    if (err instanceof CliError || err instanceof ConfigError || err instanceof DeploymentFileError) return fail(EXIT.failure, err.message);
    if (err instanceof MigrationBlockedError) return fail(EXIT.failure, migrationBlocked(err).message);
    if (err instanceof KeyDecryptionError) return fail(EXIT.failure, keysDoNotDecrypt().message);
    // What no case above expected: one line, as every other failure; the stack is for whoever
    // debugs it, who asks for it as they ask the server for more (LOG_LEVEL).
    if (config?.logLevel === 'debug' || config?.logLevel === 'trace') return fail(EXIT.failure, `failed: ${(err as Error).stack ?? String(err)}`);
    return fail(EXIT.failure, `failed: ${String(err).replace(/\s*\n\s*/g, ' ')} (LOG_LEVEL=debug shows where)`);
  } finally {
    await context?.close();
  }
}
