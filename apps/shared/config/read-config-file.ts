/**
 * Reads the YAML file named by `GATEHOUSE_CONFIG` into a plain object, with `${VAR}` replaced in
 * every string scalar of the parsed YAML (not in the raw text, so a value can never inject YAML).
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ConfigError } from './config-error.ts';

function interpolate(value: unknown, env: NodeJS.ProcessEnv, path: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, name: string) => {
      // Set to the empty string counts as not set, as for the environment overrides: compose
      // passes `${VAR:-}` for a variable the host does not set, and a missing credential must not
      // become an empty one.
      const replacement = env[name];
      if (replacement === undefined || replacement === '') {
        throw new ConfigError(`Invalid configuration: ${path.join('.')}: \${${name}} is used but the environment variable ${name} is not set (or is empty)`);
      }
      return replacement;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, [...path, String(i)]));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, [...path, k])]));
  }
  return value;
}

export function readConfigFile(file: string, env: NodeJS.ProcessEnv): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`Invalid configuration: GATEHOUSE_CONFIG: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  // Only each problem's first line is shown: the lines after it quote the file, secrets included.
  let parsed: unknown;
  try {
    const document = parseDocument(text);
    const [error] = document.errors;
    if (error) throw error;
    // A warning is something the parser read a guess into, most often a tag it does not know
    // (`password: !vault …`, its value taken as a plain string), and it printed the line holding
    // it to stderr.
    const [warning] = document.warnings;
    if (warning) {
      const hint = warning.code === 'TAG_RESOLVE_FAILED' ? ' Gatehouse reads plain YAML: remove the tag (a secret can come from the environment, ${VAR}).' : '';
      throw new ConfigError(`Invalid configuration: ${file}: ${warning.message.split('\n')[0]}${hint}`);
    }
    parsed = document.toJS();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`Invalid configuration: ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`Invalid configuration: ${file} must contain a YAML mapping at the top level`);
  }
  return interpolate(parsed, env, []) as Record<string, unknown>;
}
