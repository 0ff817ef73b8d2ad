/**
 * `gatehouse idps list|add|remove`: the enterprise IdPs whose identity assertions (ID-JAG) the
 * jwt-bearer grant accepts, beside those of the config file. A running server applies a change
 * at its next token request (the rows are read per use).
 */
import { readFileSync } from 'node:fs';
import { NEW_USER_POLICIES } from '../../../../shared/config/id-jag-section.ts';
import { describeTrustedIdp } from '../../management/describe-trusted-idp.ts';
import { CLI } from '../cli-context.ts';
import { CliError, UsageError } from '../cli-errors.ts';
import type { CommandGroup } from '../command.ts';
import { formatTable, isoTime } from '../format-table.ts';
import { parseCommandLine } from '../parse-command-line.ts';
import { scopeOption, scopesFrom } from '../scope-option.ts';
import { snakeCaseKeys } from '../snake-case-keys.ts';
import { cutInput } from '../../management/cut-input.ts';

function readJwks(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`cannot read a JWK Set from ${file}: ${(err as Error).message}`);
  }
}

export const idpsCommand: CommandGroup = {
  usage: [
    'idps list',
    'idps add --issuer URL (--jwks-uri URL | --jwks-file FILE) [--id ID] [--algorithm ALG…] [--new-users refuse|pending|allow] [--scope SCOPE[,SCOPE…]|none] [--client-id ID…]',
    '                              (trusts an enterprise IdP\'s identity assertions, ID-JAG: --new-users says what an',
    '                               unlinked subject gets (default refuse), --scope what a user it creates may have,',
    '                               --client-id the only clients its assertions may name)',
    'idps remove ISSUER|ID         (its assertions are refused from the next token request)',
  ],
  subcommands: {
    async list(args, context) {
      parseCommandLine(args, {}, { min: 0, max: 0, names: '' });
      const idps = (await context.services.trustedIdps.list()).map((idp) => snakeCaseKeys(describeTrustedIdp(idp, isoTime)));
      context.print(idps, () => formatTable(
        ['ID', 'ISSUER', 'KEYS', 'NEW USERS', 'CLIENTS', 'SOURCE'],
        idps.map((idp) => [idp.id, idp.issuer, idp.keys, idp.new_users, idp.allowed_client_ids, idp.source === 'config' ? 'config file' : `${idp.added_by} ${idp.added_at}`]),
      ));
    },

    async add(args, context) {
      const { values } = parseCommandLine(args, {
        issuer: { type: 'string' },
        id: { type: 'string' },
        'jwks-uri': { type: 'string' },
        'jwks-file': { type: 'string' },
        algorithm: { type: 'string', multiple: true },
        'new-users': { type: 'string', default: 'refuse' },
        ...scopeOption,
        'client-id': { type: 'string', multiple: true },
      }, { min: 0, max: 0, names: '', required: ['issuer'] });
      if ((values['jwks-uri'] === undefined) === (values['jwks-file'] === undefined)) throw new UsageError('give exactly one of --jwks-uri or --jwks-file');
      if (!(NEW_USER_POLICIES as readonly string[]).includes(values['new-users'])) {
        throw new UsageError(`--new-users is one of ${NEW_USER_POLICIES.join(', ')}, not ${JSON.stringify(cutInput(values['new-users']))}`);
      }
      const scopes = values.scope ? scopesFrom(values.scope) : undefined;
      const id = await context.services.trustedIdpAdmin.add({
        issuer: values.issuer!,
        ...(values.id ? { id: values.id } : {}),
        ...(values['jwks-uri'] ? { jwks_uri: values['jwks-uri'] } : {}),
        ...(values['jwks-file'] ? { jwks: readJwks(values['jwks-file']) } : {}),
        ...(values.algorithm ? { algorithms: values.algorithm } : {}),
        new_users: values['new-users'],
        ...(scopes ? { default_scopes: scopes } : {}),
        allowed_client_ids: values['client-id'] ?? [],
      }, CLI);
      context.print({ id, issuer: values.issuer, added: true }, () => `trusted ${values.issuer} (${id})`);
    },

    async remove(args, context) {
      const { positionals } = parseCommandLine(args, {}, { min: 1, max: 1, names: 'ISSUER|ID' });
      await context.services.trustedIdpAdmin.remove(positionals[0]!, CLI);
      context.print({ idp: positionals[0], removed: true }, () => `removed ${positionals[0]}`);
    },
  },
};
