/** `gatehouse clients list|add|remove|purge-unused`. */
import { AUTH_METHODS, type StaticClientAuthMethod } from '../../management/client-registry.ts';
import { UsageError } from '../cli-errors.ts';
import { describeClient } from '../../management/describe-client.ts';
import { CLI } from '../cli-context.ts';
import { createdClientNote } from '../created-client-note.ts';
import type { CommandGroup } from '../command.ts';
import { formatTable, isoTime } from '../format-table.ts';
import { parseCommandLine } from '../parse-command-line.ts';
import { snakeCaseKeys } from '../snake-case-keys.ts';
import { cutInput } from '../../management/cut-input.ts';

const isAuthMethod = (value: string): value is StaticClientAuthMethod => AUTH_METHODS.includes(value);

export const clientsCommand: CommandGroup = {
  usage: [
    'clients list',
    'clients add --name NAME --redirect-uri URI [--redirect-uri URI…] [--auth-method client_secret_basic (default)|client_secret_post|none] [--client-id ID] [--resource-server] [--upstream-audience URL…] [--id-jag]',
    '                              (prints the client secret once; it is stored hashed;',
    '                               --resource-server: it may introspect tokens for RESOURCE_URL;',
    '                               --upstream-audience: with --resource-server, an upstream MCP server URL',
    '                               it may obtain identity tokens for, exactly as the gateway config spells it;',
    '                               --id-jag: it may present enterprise IdPs\' identity assertions, see `idps`)',
    'clients remove CLIENT_ID      (revokes its grants: its refresh tokens stop at once)',
    'clients purge-unused          (deletes registrations that never obtained a token)',
  ],
  subcommands: {
    async list(args, context) {
      parseCommandLine(args, {}, { min: 0, max: 0, names: '' });
      const clients = (await context.services.clients.list()).map((c) => snakeCaseKeys(describeClient(c, isoTime)));
      context.print(clients, () => formatTable(
        ['CLIENT_ID', 'KIND', 'NAME', 'LAST USED', 'GRANTS', 'REDIRECT URIS'],
        clients.map((c) => [c.client_id, c.unused ? `${c.kind} (unused)` : c.resource_server ? `${c.kind} (resource server)`
          : c.service_account ? `${c.kind} (service account${c.disabled ? ', disabled' : ''}: ${c.scopes.join(' ')})` : c.kind, c.client_name, c.last_used_at || 'never', c.grants, c.redirect_uris.join(' ')]),
      ));
    },

    async add(args, context) {
      const { values } = parseCommandLine(args, {
        name: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        'auth-method': { type: 'string', default: 'client_secret_basic' },
        'client-id': { type: 'string' },
        'resource-server': { type: 'boolean', default: false },
        'upstream-audience': { type: 'string', multiple: true },
        'id-jag': { type: 'boolean', default: false },
      }, { min: 0, max: 0, names: '', required: ['name', 'redirect-uri'] });
      const authMethod = values['auth-method'];
      if (!isAuthMethod(authMethod)) throw new UsageError(`--auth-method is one of ${AUTH_METHODS.join(', ')}, not ${JSON.stringify(cutInput(authMethod))}`);
      await context.loadClientValidation();
      const created = await context.services.clients.createStatic({
        name: values.name!,
        redirectUris: values['redirect-uri']!,
        authMethod,
        clientId: values['client-id'],
        resourceServer: values['resource-server'],
        upstreamAudiences: values['upstream-audience'],
        idJag: values['id-jag'],
      }, CLI);
      context.committed(createdClientNote('client', created));
      context.print({ client_id: created.clientId, client_secret: created.clientSecret }, () => [
        `client_id: ${created.clientId}`,
        created.clientSecret ? `client_secret: ${created.clientSecret}\n(shown only now: it is stored hashed)` : '(a public client: no secret, PKCE required)',
      ].join('\n'));
    },

    async remove(args, context) {
      const { positionals } = parseCommandLine(args, {}, { min: 1, max: 1, names: 'CLIENT_ID' });
      const { kind, grantsRevoked } = await context.services.clients.remove(positionals[0]!, CLI);
      context.print({ client_id: positionals[0], kind, grants_revoked: grantsRevoked }, () => `deleted ${positionals[0]} (${kind}); revoked ${grantsRevoked} grant(s)`);
    },

    async 'purge-unused'(args, context) {
      parseCommandLine(args, {}, { min: 0, max: 0, names: '' });
      const count = await context.services.clients.purgeUnused(CLI);
      context.print({ deleted: count }, () => `deleted ${count} unused registration(s)`);
    },
  },
};
