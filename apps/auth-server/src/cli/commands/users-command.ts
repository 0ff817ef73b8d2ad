/** `gatehouse users add|list|disable|enable|approve|passwd|scopes`. */
import { MCP_SCOPES } from '../../../../shared/mcp-scopes.ts';
import type { User } from '../../accounts/user-store.ts';
import { describeUser } from '../../management/describe-user.ts';
import { CLI } from '../cli-context.ts';
import type { CommandGroup } from '../command.ts';
import { formatTable, isoTime } from '../format-table.ts';
import { parseCommandLine } from '../parse-command-line.ts';
import { snakeCaseKeys } from '../snake-case-keys.ts';

const scopeOption = { scope: { type: 'string', multiple: true, short: 's' } } as const;

/** `--scope a --scope b` or `--scope a,b`; default mcp:read. */
function scopesFrom(values: string[] | undefined): string[] {
  return (values ?? ['mcp:read']).flatMap((v) => v.split(/[\s,]+/)).filter(Boolean);
}

const toJson = (user: User) => snakeCaseKeys(describeUser(user, isoTime));

const configNote = (user: User) => (user.source === 'config' ? '\nnote: this user comes from the config file, whose values return at the next start' : '');

export const usersCommand: CommandGroup = {
  usage: [
    'users list [--search TEXT]',
    `users add USERNAME [--scope ${MCP_SCOPES.join(',')}]     (password from a prompt or stdin)`,
    'users disable USERNAME        (revokes their grants, ends their sessions)',
    'users enable USERNAME',
    'users approve USERNAME        (a federated user waiting for approval)',
    'users passwd USERNAME         (password from a prompt or stdin)',
    'users scopes USERNAME --scope SCOPE[,SCOPE…]',
  ],
  subcommands: {
    list(args, context) {
      const { values } = parseCommandLine(args, { search: { type: 'string' } }, { min: 0, max: 0, names: '' });
      const users = context.services.users.list(values.search).map(toJson);
      context.print(users, () => formatTable(
        ['USERNAME', 'STATUS', 'SCOPES', 'SOURCE', 'ID'],
        users.map((u) => [u.username, u.status, u.scopes.join(','), u.source, u.id]),
      ));
    },

    async add(args, context) {
      const { values, positionals } = parseCommandLine(args, scopeOption, { min: 1, max: 1, names: 'USERNAME' });
      const password = await context.readSecret(`Password for ${positionals[0]}: `, { confirm: true });
      const user = await context.services.users.create({ username: positionals[0]!, password, scopes: scopesFrom(values.scope) }, CLI);
      context.print(toJson(user), () => `created user ${user.username} (${user.id}) with scopes ${user.scopes.join(' ')}`);
    },

    async disable(args, context) {
      const { positionals } = parseCommandLine(args, {}, { min: 1, max: 1, names: 'USERNAME' });
      const { user, grantsRevoked } = await context.services.users.disable(positionals[0]!, CLI);
      context.print({ ...toJson(user), grants_revoked: grantsRevoked }, () => `disabled ${user.username}; revoked ${grantsRevoked} grant(s)${configNote(user)}`);
    },

    enable(args, context) {
      const { positionals } = parseCommandLine(args, {}, { min: 1, max: 1, names: 'USERNAME' });
      const user = context.services.users.enable(positionals[0]!, CLI);
      context.print(toJson(user), () => `enabled ${user.username}${configNote(user)}`);
    },

    approve(args, context) {
      const { positionals } = parseCommandLine(args, {}, { min: 1, max: 1, names: 'USERNAME' });
      const user = context.services.users.approve(positionals[0]!, CLI);
      context.print(toJson(user), () => `approved ${user.username}`);
    },

    async passwd(args, context) {
      const { positionals } = parseCommandLine(args, {}, { min: 1, max: 1, names: 'USERNAME' });
      const user = context.services.users.get(positionals[0]!);
      const password = await context.readSecret(`New password for ${user.username}: `, { confirm: true });
      await context.services.users.setPassword(user.id, password, CLI);
      context.print(toJson(user), () => `changed the password of ${user.username}; their browser sessions were ended${configNote(user)}`);
    },

    async scopes(args, context) {
      const { values, positionals } = parseCommandLine(args, scopeOption, { min: 1, max: 1, names: 'USERNAME' });
      const { user, grantsRevoked } = await context.services.users.setScopes(positionals[0]!, scopesFrom(values.scope), CLI);
      context.print({ ...toJson(user), grants_revoked: grantsRevoked }, () => `${user.username} may grant ${user.scopes.join(' ') || 'nothing'}; revoked ${grantsRevoked} grant(s) holding a removed scope${configNote(user)}`);
    },
  },
};
