/** `gatehouse hash-password`: a bcrypt hash for `password_hash` in the config file. */
import type { CommandGroup } from '../command.ts';
import { CliError } from '../cli-errors.ts';
import { MAX_PASSWORD_BYTES, PasswordTooLongError } from '../../accounts/password-hasher.ts';
import { parseCommandLine } from '../parse-command-line.ts';

export const hashPasswordCommand: CommandGroup = {
  usesDatabase: false,
  usage: ['hash-password                 (password from a prompt or stdin; prints a bcrypt hash for the config file)'],
  subcommands: {
    async ''(args, context) {
      parseCommandLine(args, {}, { min: 0, max: 0, names: '' });
      const password = await context.readSecret('Password: ', { confirm: true });
      let hash: string;
      try {
        hash = await context.hasher.hash(password);
      } catch (err) {
        if (err instanceof PasswordTooLongError) throw new CliError(`passwords are limited to ${MAX_PASSWORD_BYTES} bytes (bcrypt ignores the rest); choose a shorter one`);
        throw err;
      }
      context.print({ password_hash: hash }, () => hash);
    },
  },
};
