/** `gatehouse grants list|revoke`. */
import { describeGrants } from '../../management/describe-grants.ts';
import type { GrantFilter } from '../../management/grant-registry.ts';
import { CLI, type CliContext } from '../cli-context.ts';
import { CliError, UsageError } from '../cli-errors.ts';
import type { CommandGroup } from '../command.ts';
import { formatTable, isoTime } from '../format-table.ts';
import { INVOCATION } from '../invocation.ts';
import { parseCommandLine } from '../parse-command-line.ts';
import { snakeCaseKeys } from '../snake-case-keys.ts';
import { cutInput } from '../../management/cut-input.ts';

const filterOptions = { user: { type: 'string' }, client: { type: 'string' } } as const;

/**
 * The grant filter `--user` / `--client` name, each checked to exist: a misspelt name is an error,
 * not an empty list (or "revoked 0 grants") that reads as if there were nothing.
 */
async function grantFilter(context: CliContext, values: { user?: string; client?: string }): Promise<GrantFilter> {
  const { services } = context;
  const accountId = values.user === undefined ? undefined : (await services.users.get(values.user)).id;
  if (values.client !== undefined && !await services.clients.find(values.client)) {
    throw new CliError(`there is no client ${cutInput(values.client)}; \`${INVOCATION} clients list\` shows them`);
  }
  return { accountId, clientId: values.client };
}

export const grantsCommand: CommandGroup = {
  usage: [
    'grants list [--user USERNAME] [--client CLIENT_ID]',
    'grants revoke GRANT_ID | --user USERNAME | --client CLIENT_ID',
    '                              (refresh tokens stop at once; the MCP server refuses its access tokens within seconds)',
  ],
  subcommands: {
    async list(args, context) {
      const { values } = parseCommandLine(args, filterOptions, { min: 0, max: 0, names: '' });
      const grants = (await describeGrants(context.services, context.users, await grantFilter(context, values), isoTime)).map(snakeCaseKeys);
      context.print(grants, () => formatTable(
        ['GRANT_ID', 'USER', 'CLIENT_ID', 'SCOPES', 'CREATED', 'LAST REFRESH'],
        grants.map((g) => [g.grant_id, g.user, g.client_id, g.scopes.join(' '), g.created_at, g.last_refresh_at || 'never']),
      ));
    },

    async revoke(args, context) {
      const { values, positionals } = parseCommandLine(args, filterOptions, { min: 0, max: 1, names: 'GRANT_ID' });
      const given = [positionals.length > 0, values.user !== undefined, values.client !== undefined].filter(Boolean).length;
      if (given !== 1) throw new UsageError('give exactly one of GRANT_ID, --user or --client');
      const { services } = context;
      let revoked: number;
      if (positionals.length > 0) {
        if (!await services.grants.revoke(positionals[0]!, CLI, 'revoked from the command line')) {
          throw new CliError(`there is no grant ${JSON.stringify(cutInput(positionals[0]!))}; \`${INVOCATION} grants list\` shows them`);
        }
        revoked = 1;
      } else {
        revoked = await services.grants.revokeAll(await grantFilter(context, values), CLI, 'revoked from the command line');
      }
      context.print({ revoked }, () => `revoked ${revoked} grant(s)`);
    },
  },
};
