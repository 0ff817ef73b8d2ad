/** `gatehouse grants list|revoke`. */
import { describeGrants } from '../../management/describe-grants.ts';
import { CLI } from '../cli-context.ts';
import { CliError, UsageError } from '../cli-errors.ts';
import type { CommandGroup } from '../command.ts';
import { formatTable, isoTime } from '../format-table.ts';
import { parseCommandLine } from '../parse-command-line.ts';
import { snakeCaseKeys } from '../snake-case-keys.ts';

const filterOptions = { user: { type: 'string' }, client: { type: 'string' } } as const;

export const grantsCommand: CommandGroup = {
  usage: [
    'grants list [--user USERNAME] [--client CLIENT_ID]',
    'grants revoke GRANT_ID | --user USERNAME | --client CLIENT_ID',
    '                              (refresh tokens stop at once; the MCP server refuses its access tokens within seconds)',
  ],
  subcommands: {
    async list(args, context) {
      const { values } = parseCommandLine(args, filterOptions, { min: 0, max: 0, names: '' });
      const { services, users } = context;
      const accountId = values.user ? services.users.get(values.user).id : undefined;
      const grants = (await describeGrants(services, users, { accountId, clientId: values.client }, isoTime)).map(snakeCaseKeys);
      context.print(grants, () => formatTable(
        ['GRANT_ID', 'USER', 'CLIENT_ID', 'SCOPES', 'CREATED', 'LAST REFRESH'],
        grants.map((g) => [g.grant_id, g.user, g.client_id, g.scopes.join(' '), g.created_at, g.last_refresh_at || 'never']),
      ));
    },

    async revoke(args, context) {
      const { values, positionals } = parseCommandLine(args, filterOptions, { min: 0, max: 1, names: 'GRANT_ID' });
      const given = [positionals.length > 0, Boolean(values.user), Boolean(values.client)].filter(Boolean).length;
      if (given !== 1) throw new UsageError('give exactly one of GRANT_ID, --user or --client');
      const { services } = context;
      let revoked: number;
      if (positionals[0]) {
        if (!await services.grants.revoke(positionals[0], CLI, 'revoked from the command line')) {
          throw new CliError(`there is no grant ${positionals[0]}`);
        }
        revoked = 1;
      } else {
        const filter = values.user ? { accountId: services.users.get(values.user).id } : { clientId: values.client! };
        revoked = await services.grants.revokeAll(filter, CLI, 'revoked from the command line');
      }
      context.print({ revoked }, () => `revoked ${revoked} grant(s)`);
    },
  },
};
