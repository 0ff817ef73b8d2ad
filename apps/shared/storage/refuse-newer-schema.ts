/**
 * Migrations only go forward, and rows change form with them (021 renamed the fields of every
 * stored grant, code and refresh token): code older than a migration misreads what it wrote. So a
 * database that records a migration this version does not have was upgraded by a newer Gatehouse,
 * and this one refuses to start on it (a ConfigError: exit code 2, one line) before it reads or
 * writes anything, instead of serving from rows it cannot read right. Going back to an older
 * version means restoring the backup taken before the upgrade (README § Upgrading).
 */
import { ConfigError } from '../config/config-error.ts';

export function refuseNewerSchema(database: string, applied: Iterable<string>, known: readonly string[]): void {
  const ours = new Set(known);
  const unknown = [...applied].filter((version) => !ours.has(version)).sort();
  if (unknown.length === 0) return;
  throw new ConfigError(`${database} was upgraded by a newer version of Gatehouse (it records migration ${unknown.join(', ')}, which this version does not have); run that version or a later one, or restore the backup taken before the upgrade: this version could misread what the newer one stored`);
}
