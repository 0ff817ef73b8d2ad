/**
 * `gatehouse services add|scopes|disable|enable`: service accounts, the machine clients of the
 * client credentials grant (management/service-accounts.ts). They are listed by `clients list`
 * (kind `static (service account)`) and deleted by `clients remove`.
 */
import { readFileSync } from 'node:fs';
import type { ServiceAuthMethod } from '../../management/service-accounts.ts';
import { CLI } from '../cli-context.ts';
import { createdClientNote } from '../created-client-note.ts';
import { CliError, UsageError } from '../cli-errors.ts';
import type { CommandGroup } from '../command.ts';
import { parseCommandLine } from '../parse-command-line.ts';
import { scopeOption, scopesFrom } from '../scope-option.ts';
import { cutInput } from '../../management/cut-input.ts';

const AUTH_METHODS: readonly ServiceAuthMethod[] = ['private_key_jwt', 'client_secret_basic'];
const isAuthMethod = (value: string): value is ServiceAuthMethod => (AUTH_METHODS as readonly string[]).includes(value);

function readJwksFile(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new CliError(`--jwks-file: cannot read ${path}`);
  }
}

export const servicesCommand: CommandGroup = {
  usage: [
    'services add --name NAME --scope SCOPE [--scope SCOPE…] [--auth-method private_key_jwt|client_secret_basic]',
    '             [--jwks-file PATH | --jwks-uri URL] [--client-id ID]',
    '                              (a machine client for the client_credentials grant; private_key_jwt (default)',
    '                               needs the public keys as a JWK Set file or an https URL;',
    '                               client_secret_basic prints the secret once; it is stored hashed)',
    'services scopes CLIENT_ID --scope SCOPE [--scope SCOPE…]   (taking a scope away stops its current tokens)',
    'services disable CLIENT_ID    (no new token; current tokens refused within seconds)',
    'services enable CLIENT_ID',
  ],
  subcommands: {
    async add(args, context) {
      const { values } = parseCommandLine(args, {
        name: { type: 'string' },
        ...scopeOption,
        'auth-method': { type: 'string', default: 'private_key_jwt' },
        'jwks-file': { type: 'string' },
        'jwks-uri': { type: 'string' },
        'client-id': { type: 'string' },
      }, { min: 0, max: 0, names: '', required: ['name', 'scope'] });
      const authMethod = values['auth-method'];
      if (!isAuthMethod(authMethod)) throw new UsageError(`--auth-method is one of ${AUTH_METHODS.join(', ')}, not ${JSON.stringify(cutInput(authMethod))}`);
      // Said in the command line's words: the service's message names the admin form's fields.
      if (authMethod === 'private_key_jwt' && values['jwks-file'] === undefined && values['jwks-uri'] === undefined) {
        throw new UsageError('private_key_jwt (the default --auth-method) needs the service\'s public keys: --jwks-file PATH (a JWK Set) or --jwks-uri URL; '
          + 'or --auth-method client_secret_basic for a generated secret, shown once');
      }
      if (values['jwks-file'] !== undefined && values['jwks-uri'] !== undefined) throw new UsageError('give --jwks-file or --jwks-uri, not both');
      const scopes = scopesFrom(values.scope!);
      await context.loadClientValidation();
      const created = await context.services.serviceAccounts.create({
        name: values.name!,
        authMethod,
        scopes,
        jwks: readJwksFile(values['jwks-file']),
        jwksUri: values['jwks-uri'],
        clientId: values['client-id'],
      }, CLI);
      context.committed(createdClientNote('service account', created));
      context.print({ client_id: created.clientId, client_secret: created.clientSecret }, () => [
        `client_id: ${created.clientId}`,
        created.clientSecret ? `client_secret: ${created.clientSecret}\n(shown only now: it is stored hashed)` : '(private_key_jwt: sign client assertions with the private key)',
      ].join('\n'));
    },

    async scopes(args, context) {
      const { positionals, values } = parseCommandLine(args, scopeOption, { min: 1, max: 1, names: 'CLIENT_ID', required: ['scope'] });
      const scopes = scopesFrom(values.scope!);
      await context.loadClientValidation();
      await context.services.serviceAccounts.setScopes(positionals[0]!, scopes, CLI);
      context.print({ client_id: positionals[0], scope: scopes.join(' ') }, () => `${positionals[0]}: scopes set`);
    },

    async disable(args, context) {
      const { positionals } = parseCommandLine(args, {}, { min: 1, max: 1, names: 'CLIENT_ID' });
      await context.loadClientValidation();
      await context.services.serviceAccounts.setDisabled(positionals[0]!, true, CLI);
      context.print({ client_id: positionals[0], disabled: true }, () => `${positionals[0]}: disabled`);
    },

    async enable(args, context) {
      const { positionals } = parseCommandLine(args, {}, { min: 1, max: 1, names: 'CLIENT_ID' });
      await context.loadClientValidation();
      await context.services.serviceAccounts.setDisabled(positionals[0]!, false, CLI);
      context.print({ client_id: positionals[0], disabled: false }, () => `${positionals[0]}: enabled`);
    },
  },
};
