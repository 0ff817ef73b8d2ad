/**
 * `gatehouse keys list|rotate|retire`, on the server's key store: the key file (changed in place,
 * atomically) or, on PostgreSQL, the database. Running servers (every replica) notice within
 * `signing.reload_interval` (default 5 s) and sign with the active key.
 * Stages (next → active → retiring) are explained in keys/signing-keys.ts.
 */
import { describeKey } from '../../management/describe-key.ts';
import { CLI } from '../cli-context.ts';
import { CliError } from '../cli-errors.ts';
import type { CommandGroup } from '../command.ts';
import { formatTable, isoTime } from '../format-table.ts';
import { INVOCATION } from '../invocation.ts';
import { parseCommandLine } from '../parse-command-line.ts';
import { snakeCaseKeys } from '../snake-case-keys.ts';
import { cutInput } from '../../management/cut-input.ts';

export const keysCommand: CommandGroup = {
  usage: [
    'keys list',
    'keys rotate                   (the next key signs from now on; the old one stays published)',
    'keys retire [--force] KID     (--force: even while tokens it signed may still be valid)',
  ],
  subcommands: {
    async list(args, context) {
      parseCommandLine(args, {}, { min: 0, max: 0, names: '' });
      const keys = (await context.services.keys.list()).map((k) => snakeCaseKeys(describeKey(k, isoTime)));
      context.print(keys, () => formatTable(
        ['KID', 'STATUS', 'CREATED', 'ITS TOKENS VALID UNTIL', 'SAFE TO RETIRE'],
        keys.map((k) => [k.kid, k.status, k.created_at, k.tokens_valid_until, k.status === 'retiring' ? (k.safe_to_retire ? 'yes' : 'no') : '']),
      ));
    },

    async rotate(args, context) {
      parseCommandLine(args, {}, { min: 0, max: 0, names: '' });
      // A server makes its keys at its first start: none here is a KEYS_DIR (or database) no server
      // has used yet, often the command run from another directory than the server's. The keys are
      // made all the same (to have them before the first start), and said to be new, as a new
      // database is: "published since the previous rotation" would tell of a switch no server makes.
      const first = (await context.services.keys.list()).length === 0;
      const key = await context.services.keys.rotate(CLI);
      if (first) context.note(`there were no signing keys in ${context.keysLocation}; created new ones (check ${context.config.database.postgres ? 'DATABASE_URL' : 'KEYS_DIR'} if you expected a server's keys)`);
      context.print({ kid: key.kid, status: key.status }, () => first
        ? `created signing keys: ${key.kid} signs, and a next key is published for the next rotation`
        : `now signing with ${key.kid} (published since the previous rotation); a running server switches within ${context.config.keysReloadInterval}s`);
    },

    async retire(args, context) {
      const { values, positionals } = parseCommandLine(args, { force: { type: 'boolean', default: false } }, { min: 1, max: 1, names: 'KID' });
      const kid = positionals[0]!;
      const key = (await context.services.keys.list()).find((k) => k.kid === kid);
      if (!key) throw new CliError(`there is no signing key ${cutInput(kid)}; \`${INVOCATION} keys list\` shows them`);
      // keys.retire refuses this too, but in the admin page's words ("Confirm"): here, the flag that confirms.
      if (key?.status === 'retiring' && !key.safeToRetire && !values.force) {
        throw new CliError(`tokens signed by ${kid} may be valid until ${isoTime(key.tokensValidUntil)}; retiring it now makes them fail. `
          + `To retire it anyway: ${INVOCATION} keys retire --force -- ${kid}`);
      }
      await context.services.keys.retire(kid, { force: values.force }, CLI);
      context.print({ kid: positionals[0], retired: true }, () => `retired ${positionals[0]}`);
    },
  },
};
