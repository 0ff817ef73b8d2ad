/** `gatehouse redirects list|allow|remove`, `gatehouse schemes list|allow|remove` and `gatehouse hosts list|trust|remove`. */
import type { AllowList } from '../../management/allow-list.ts';
import { describeAllowListEntry } from '../../management/describe-allow-list-entry.ts';
import { CLI, type CliContext } from '../cli-context.ts';
import type { CommandGroup } from '../command.ts';
import { formatTable, isoTime } from '../format-table.ts';
import { parseCommandLine } from '../parse-command-line.ts';
import { snakeCaseKeys } from '../snake-case-keys.ts';

/** Where an entry comes from, in the admin page's words (views/admin/redirect-uris.njk); `--json` keeps `source` and `built_in_default`. */
function sourceOf(entry: { source: string; built_in_default: boolean }): string {
  if (entry.built_in_default) return 'built-in default';
  return entry.source === 'config' ? 'config file' : entry.source;
}

function allowListCommand(group: string, list: (context: CliContext) => AllowList, what: { add: string; arg: string; key: string; note: string }): CommandGroup {
  return {
    usage: [
      `${group} list`,
      `${group} ${what.add} ${what.arg}${what.note}`,
      `${group} remove ${what.arg}`,
    ],
    subcommands: {
      async list(args, context) {
        parseCommandLine(args, {}, { min: 0, max: 0, names: '' });
        const entries = (await list(context).list()).map((e) => snakeCaseKeys(describeAllowListEntry(what.key, e, isoTime)));
        context.print(entries, () => formatTable([what.key.toUpperCase(), 'SOURCE', 'ADDED BY', 'ADDED AT'], entries.map((e) => [e[what.key], sourceOf(e), e.added_by, e.added_at])));
      },
      async [what.add](args, context) {
        const { positionals } = parseCommandLine(args, {}, { min: 1, max: 1, names: what.arg });
        // What was stored, which is what `list` shows and matching compares: `MyApp` is stored as myapp.
        const value = list(context).storedForm(positionals[0]!);
        const added = await list(context).add(value, CLI);
        context.print({ [what.key]: value, added }, () => (added ? `added ${value}` : `${value} was already on the list`));
      },
      async remove(args, context) {
        const { positionals } = parseCommandLine(args, {}, { min: 1, max: 1, names: what.arg });
        // What was removed, as `list` showed it: `remove MyApp` removes myapp.
        const value = await list(context).remove(positionals[0]!, CLI);
        context.print({ [what.key]: value, removed: true }, () => `removed ${value}`);
      },
    },
  };
}

export const redirectsCommand = allowListCommand('redirects', (c) => c.services.redirectUris, {
  add: 'allow', arg: 'URI', key: 'uri', note: '            (exact https URI; a running server applies it within 2 s)',
});

export const schemesCommand = allowListCommand('schemes', (c) => c.services.redirectSchemes, {
  add: 'allow', arg: 'SCHEME', key: 'scheme', note: '       (private-use redirect URI scheme, like myapp)',
});

export const hostsCommand = allowListCommand('hosts', (c) => c.services.trustedHosts, {
  add: 'trust', arg: 'HOST', key: 'host', note: '             (trusted host for client ID metadata documents)',
});
