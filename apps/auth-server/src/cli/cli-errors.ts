/**
 * How the CLI ends: 0 when the command did what it was asked, 1 when it failed or was refused
 * (the message says why), 2 when the command line itself is wrong (the message and the usage).
 */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** The command line is wrong: unknown command or option, missing or extra argument. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The command could not be done; `message` is written for the person at the terminal. */
export class CliError extends Error {
  override name = 'CliError';
}
