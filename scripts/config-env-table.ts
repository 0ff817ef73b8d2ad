/**
 * The README's table of environment variables, generated from the configuration schema's
 * annotations (each field's `.meta()`: description, env var, derived default), so the table and
 * the code cannot drift: test/ops/readme.test.ts fails when they differ.
 *
 *   npx tsx scripts/config-env-table.ts          prints the table
 *   npx tsx scripts/config-env-table.ts --write  puts it into README.md between its markers
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listConfigFields } from '../apps/shared/config/config-fields.ts';

export const ENV_TABLE_START = '<!-- env-vars: generated from the config schema by scripts/config-env-table.ts -->';
export const ENV_TABLE_END = '<!-- /env-vars -->';

export function formatEnvVarTable(): string {
  const rows = listConfigFields().filter((field) => field.note.env).map((field) => {
    const shown = field.note.default ?? (field.defaultValue === undefined ? 'none' : `\`${field.defaultValue}\``);
    return `| \`${field.note.env}\` | \`${field.path}\` | ${shown} | ${field.note.description} |`;
  });
  return [
    '| env var | field | default | what |',
    '| --- | --- | --- | --- |',
    '| `GATEHOUSE_CONFIG` | | none | path of the YAML config file |',
    ...rows,
  ].join('\n');
}

/** README.md with the table between its markers replaced by the generated one. */
export function withEnvVarTable(readme: string): string {
  const start = readme.indexOf(ENV_TABLE_START);
  const end = readme.indexOf(ENV_TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${ENV_TABLE_START} … ${ENV_TABLE_END} markers`);
  return `${readme.slice(0, start + ENV_TABLE_START.length)}\n${formatEnvVarTable()}\n${readme.slice(end)}`;
}

if (import.meta.filename === process.argv[1]) {
  if (process.argv.includes('--write')) {
    const file = join(import.meta.dirname, '..', 'README.md');
    writeFileSync(file, withEnvVarTable(readFileSync(file, 'utf8')));
  } else {
    process.stdout.write(`${formatEnvVarTable()}\n`);
  }
}
