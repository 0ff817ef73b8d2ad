/** `gatehouse users add|list|disable|enable|approve|passwd|scopes|rename|link|links|unlink`. */
import { MCP_SCOPES } from '../../../../shared/mcp-scopes.ts';
import { FirstAdminPasswordFile } from '../../accounts/first-admin-password-file.ts';
import type { User } from '../../accounts/user-store.ts';
import { describeUser } from '../../management/describe-user.ts';
import { AdminError } from '../../management/admin-error.ts';
import { CLI } from '../cli-context.ts';
import type { CommandGroup } from '../command.ts';
import { formatTable, isoTime } from '../format-table.ts';
import { parseCommandLine } from '../parse-command-line.ts';
import { scopeOption, scopesFrom } from '../scope-option.ts';
import { snakeCaseKeys } from '../snake-case-keys.ts';
import { UsageError } from '../cli-errors.ts';

/** A new user may grant only this unless `--scope` says more. */
const NEW_USER_SCOPES = ['mcp:read'];

const toJson = (user: User) => snakeCaseKeys(describeUser(user, isoTime));

/** The line to add when `user` comes from the config file (none otherwise). */
const configNote = (user: User): string[] => (user.source === 'config' ? ['note: this user comes from the config file, whose values return at the next start'] : []);

export const usersCommand: CommandGroup = {
  usage: [
    'users list [--search TEXT]',
    `users add USERNAME [--scope ${MCP_SCOPES.join(',')}]     (default ${NEW_USER_SCOPES.join(',')}; password from a prompt or stdin)`,
    'users disable USERNAME        (revokes their grants, ends their sessions)',
    'users enable USERNAME',
    'users approve USERNAME        (a federated user waiting for approval)',
    'users passwd USERNAME         (password from a prompt or stdin)',
    'users scopes USERNAME --scope SCOPE[,SCOPE…]|none   (replaces the scopes; revokes grants holding a removed one)',
    'users rename USERNAME NEW_USERNAME   (a built-in user signs in with the new name; grants and links stay)',
    'users link USERNAME --upstream ID|--idp ID --subject SUB   (their sign-in at that upstream, or the ID-JAG IdP\'s assertions for SUB, reach this user)',
    'users links USERNAME          (the upstream sign-ins linked to the user)',
    'users unlink USERNAME --issuer URL --subject SUB   (removes a link; revokes the user\'s grants, ends their sessions)',
  ],
  subcommands: {
    async list(args, context) {
      const { values } = parseCommandLine(args, { search: { type: 'string' } }, { min: 0, max: 0, names: '' });
      const found = await context.services.users.list(values.search).catch((err: unknown) => {
        // A --search too long is a bad value on the command line (exit 2), not a refusal.
        throw err instanceof AdminError && err.field === 'search' ? new UsageError(`--search: ${err.error_description}`) : err;
      });
      const users = found.map(toJson);
      // As the admin pages' list flags a name stored before the username rules: a column, and what
      // to do, only when some name needs it.
      const toRename = users.filter((u) => u.needs_renaming).length;
      const flag = toRename > 0;
      context.print(users, () => formatTable(
        ['USERNAME', 'STATUS', 'SCOPES', 'SOURCE', 'ID', ...(flag ? ['NOTE'] : [])],
        users.map((u) => [u.username, u.status, u.scopes.join(','), u.source, u.id, ...(flag ? [u.needs_renaming ? 'rename' : ''] : [])]),
      ) + (flag ? `\nnote: ${toRename === 1 ? '1 name was' : `${toRename} names were`} stored before today's username rules (the form of a user id, a name the audit log gives what is not a user, or a character that steers a display); rename with: gatehouse users rename USERNAME NEW_USERNAME` : ''));
    },

    async add(args, context) {
      const { values, positionals } = parseCommandLine(args, scopeOption, { min: 1, max: 1, names: 'USERNAME' });
      const username = await context.services.users.checkNewUsername(positionals[0]!);
      const password = await context.readSecret(`Password for ${username}: `, { confirm: true });
      const user = await context.services.users.create({ username, password, scopes: values.scope ? scopesFrom(values.scope) : NEW_USER_SCOPES }, CLI);
      context.print(toJson(user), () => [`created user ${user.username} (${user.id}) with scopes ${user.scopes.join(' ')}`]);
    },

    async disable(args, context) {
      const { positionals } = parseCommandLine(args, {}, { min: 1, max: 1, names: 'USERNAME' });
      const changed = !(await context.services.users.get(positionals[0]!)).disabled;
      const { user, grantsRevoked } = await context.services.users.disable(positionals[0]!, CLI);
      context.print({ ...toJson(user), changed, grants_revoked: grantsRevoked }, () => (changed
        ? [`disabled ${user.username}; revoked ${grantsRevoked} grant(s)`, ...configNote(user)]
        : grantsRevoked > 0
          ? [`${user.username} was already disabled; revoked ${grantsRevoked} grant(s) an earlier attempt left`]
          : [`${user.username} was already disabled; nothing changed`]));
    },

    async enable(args, context) {
      const { positionals } = parseCommandLine(args, {}, { min: 1, max: 1, names: 'USERNAME' });
      const changed = (await context.services.users.get(positionals[0]!)).disabled;
      const user = await context.services.users.enable(positionals[0]!, CLI);
      context.print({ ...toJson(user), changed }, () => (changed ? [`enabled ${user.username}`, ...configNote(user)] : [`${user.username} was not disabled; nothing changed`]));
    },

    async approve(args, context) {
      const { positionals } = parseCommandLine(args, {}, { min: 1, max: 1, names: 'USERNAME' });
      const changed = (await context.services.users.get(positionals[0]!)).pending;
      const user = await context.services.users.approve(positionals[0]!, CLI);
      context.print({ ...toJson(user), changed }, () => [changed
        ? `approved ${user.username}`
        : `${user.username} is not waiting for approval (${toJson(user).status}); nothing changed`]);
    },

    async passwd(args, context) {
      const { positionals } = parseCommandLine(args, {}, { min: 1, max: 1, names: 'USERNAME' });
      const user = await context.services.users.get(positionals[0]!);
      const password = await context.readSecret(`New password for ${user.username}: `, { confirm: true });
      await context.services.users.setPassword({ id: user.id }, password, CLI);
      // The first admin's generated password, handed over in a file, is no longer theirs.
      const { firstAdminPasswordFile, bootstrapAdmin } = context.config;
      const removed = await new FirstAdminPasswordFile(firstAdminPasswordFile, bootstrapAdmin.username).forgetIfFirstAdmin(user, context.users);
      context.print(toJson(user), () => [
        `changed the password of ${user.username}; their browser sessions were ended`,
        ...(removed ? [`removed ${firstAdminPasswordFile}, which held the password generated at the first start`] : []),
        ...configNote(user),
      ]);
    },

    async scopes(args, context) {
      const { values, positionals } = parseCommandLine(args, scopeOption, { min: 1, max: 1, names: 'USERNAME', required: ['scope'] });
      const { user, grantsRevoked } = await context.services.users.setScopes(positionals[0]!, scopesFrom(values.scope!), CLI);
      context.print({ ...toJson(user), grants_revoked: grantsRevoked }, () => [`${user.username} may grant ${user.scopes.join(' ') || 'nothing'}; revoked ${grantsRevoked} grant(s) holding a removed scope`, ...configNote(user)]);
    },

    async rename(args, context) {
      const { positionals } = parseCommandLine(args, {}, { min: 2, max: 2, names: 'USERNAME NEW_USERNAME' });
      const { user, from, changed } = await context.services.users.rename(positionals[0]!, positionals[1]!, CLI);
      context.print({ ...toJson(user), changed, previous_username: from }, () => [changed ? `renamed ${from} to ${user.username}` : `${user.username} is already named so; nothing changed`]);
    },

    async link(args, context) {
      const { values, positionals } = parseCommandLine(args, { upstream: { type: 'string' }, idp: { type: 'string' }, subject: { type: 'string' } }, { min: 1, max: 1, names: 'USERNAME', required: ['subject'] });
      if ((values.upstream === undefined) === (values.idp === undefined)) throw new UsageError('users link needs exactly one of --upstream ID (federated sign-in) or --idp ID (a trusted ID-JAG IdP)');
      const source = values.upstream !== undefined ? { upstream: values.upstream } : { idp: values.idp! };
      const at = values.upstream ?? values.idp!;
      const { user, changed } = await context.services.federatedLinks.link(positionals[0]!, source, values.subject!, CLI);
      context.print({ ...toJson(user), changed, ...source, subject: values.subject }, () => [changed
        ? `linked ${at} sign-in ${values.subject} to ${user.username}`
        : `${at} sign-in ${values.subject} was already linked to ${user.username}; nothing changed`]);
    },

    async links(args, context) {
      const { positionals } = parseCommandLine(args, {}, { min: 1, max: 1, names: 'USERNAME' });
      const links = (await context.services.federatedLinks.linksOf(positionals[0]!)).map((link) => ({
        issuer: link.issuer, subject: link.subject, upstream: link.upstreamId, linked_at: isoTime(link.createdAt), last_used_at: isoTime(link.lastUsedAt),
      }));
      context.print(links, () => formatTable(['UPSTREAM', 'ISSUER', 'SUBJECT', 'LINKED', 'LAST USED'], links.map((l) => [l.upstream, l.issuer, l.subject, l.linked_at, l.last_used_at])));
    },

    async unlink(args, context) {
      const { values, positionals } = parseCommandLine(args, { issuer: { type: 'string' }, subject: { type: 'string' } }, { min: 1, max: 1, names: 'USERNAME', required: ['issuer', 'subject'] });
      const { user, removed, grantsRevoked } = await context.services.federatedLinks.unlink(positionals[0]!, values.issuer!, values.subject!, CLI);
      context.print({ ...toJson(user), changed: removed, grants_revoked: grantsRevoked }, () => [removed
        ? `unlinked ${values.subject} at ${values.issuer} from ${user.username}; revoked ${grantsRevoked} grant(s) and ended their sessions`
        : `${user.username} has no link to ${values.subject} at ${values.issuer}; nothing changed`]);
    },
  },
};
