/**
 * Parses one command's arguments with node:util parseArgs (strict: an unknown option, a missing
 * required option or a wrong number of arguments is a UsageError, exit code 2).
 *
 * - `--` ends the options: what follows is an argument even when it starts with `-` (a client id,
 *   a grant id or a kid may). `--option=value` takes a value starting with `-` too.
 * - An option that takes one value may be given once: parseArgs keeps the last of
 *   `--role admin --role user`, which may not be the one the user meant (a script appending its
 *   own flag to a line that already has it). `multiple` options (`--scope`) repeat.
 * - A required option is never given a default: a command that changes data does only what its
 *   command line says (`users scopes bob` without `--scope` must not strip bob's scopes).
 * - An option that takes one value may not be given an empty one: `--actor "$WHO"` with WHO unset
 *   is a mistake, not a wish to see every actor (`--scope` says the same in scope-option.ts).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './cli-errors.ts';
import { cutInput } from '../management/cut-input.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

interface Expected<O extends Options> {
  /** How many arguments (not options) the command takes. */
  min: number;
  max: number;
  /** The arguments as the usage line names them, for the message when one is missing. */
  names: string;
  /** Options without which the command must not run. */
  required?: ReadonlyArray<keyof O & string>;
}

function refuseRepeatedOrEmpty(tokens: ReturnType<typeof parseArgs>['tokens'], options: Options): void {
  const seen = new Set<string>();
  for (const token of tokens ?? []) {
    if (token.kind !== 'option' || options[token.name]?.type !== 'string' || options[token.name]?.multiple) continue;
    const short = options[token.name]?.short;
    const named = `--${token.name}${short ? ` (-${short})` : ''}`;
    if (seen.has(token.name)) throw new UsageError(`${named} is given twice; give it once`);
    if (!token.value?.trim()) throw new UsageError(`${named} is empty`);
    seen.add(token.name);
  }
}

export function parseCommandLine<O extends Options>(args: string[], options: O, expected: Expected<O>) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  refuseRepeatedOrEmpty(parsed.tokens, options);
  const count = parsed.positionals.length;
  if (count < expected.min) throw new UsageError(`missing ${expected.names}`);
  if (count > expected.max) throw new UsageError(`unexpected argument ${JSON.stringify(cutInput(parsed.positionals[expected.max]!))}`);
  const missing = (expected.required ?? []).filter((name) => (parsed.values as Record<string, unknown>)[name] === undefined);
  if (missing.length > 0) throw new UsageError(`missing ${missing.map((name) => `--${name}`).join(' and ')}`);
  return parsed;
}
