/**
 * An allow-list entry (redirect URI, private-use scheme, trusted host) as the admin pages and the
 * CLI show it, under the name of what it allows (`uri`, `scheme`, `host`). Entries from the config
 * file have no `addedBy` and no time; `builtInDefault` marks the defaults a config file did not replace.
 */
import type { AllowListEntry } from './allow-list.ts';
import type { TimeFormat } from './time-format.ts';

export function describeAllowListEntry<Key extends string>(key: Key, entry: AllowListEntry, time: TimeFormat) {
  return { [key]: entry.value, source: entry.source, builtInDefault: entry.builtInDefault, addedBy: entry.addedBy, addedAt: time(entry.addedAt) } as
    Record<Key, string> & { source: AllowListEntry['source']; builtInDefault: boolean; addedBy: string | undefined; addedAt: string };
}
