/**
 * How the CLI ends: 0 when the command did what it was asked, 1 when it failed or was refused
 * (the message says why), 2 when the command line itself is wrong (the message and the usage),
 * 128 + the signal's number when a signal stopped it (`backup`: 130 for Ctrl-C, 143 for SIGTERM,
 * 129 for SIGHUP), as a shell reports a command a signal ended, so a script tells "stopped" from
 * "failed".
 */
import { constants } from 'node:os';
import { databaseErrorReason } from '../../../shared/storage/database-unavailable-error.ts';
import { MigrationBlockedError } from '../../../shared/storage/migration-blocked-error.ts';

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** The command line is wrong: unknown command or option, missing or extra argument. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The command could not be done; `message` is written for the person at the terminal. */
export class CliError extends Error {
  override name = 'CliError';
}

/** The command was stopped by `signal` after it had handled it (undone what it began); the exit code is 128 + the signal's number. */
export class InterruptedError extends CliError {
  override name = 'InterruptedError';
  readonly exitCode: number;
  constructor(message: string, readonly signal: NodeJS.Signals) {
    super(message);
    this.exitCode = 128 + constants.signals[signal];
  }
}

/**
 * A database the command could not open or bring to its schema (DATA_DIR a file, a file that is
 * not SQLite, PostgreSQL refusing), named in one line: the person at the terminal needs which
 * database and why, not a stack trace. `where` names it without secrets (a URL without its password).
 * A migration another session's lock held up is said as `migrationBlocked` says it.
 */
export function cannotOpenDatabase(where: string, err: unknown): CliError {
  if (err instanceof MigrationBlockedError) return migrationBlocked(err);
  const reason = databaseErrorReason(err);
  return new CliError(`cannot open the database ${where}: ${reason.replace(/\s*\n\s*/g, ' ')}`);
}

/**
 * A PostgreSQL migration the command applied before its work, as the server does at start, that
 * another session's lock on a table held up (MigrationBlockedError): its own line as it is, which
 * names the migration and how to find that session, ending in running the command again, not in
 * starting again (the app's words). Not "cannot open the database": it opened, and nothing of the
 * migration was applied.
 */
export function migrationBlocked(err: MigrationBlockedError): CliError {
  return new CliError(err.describe('run this command again'), { cause: err });
}
