/**
 * Turns the first zod issue into the one line a refusal prints: the field's path, the env var the
 * value came from (when it did), and what is expected.
 */
import type * as z from 'zod';

/**
 * For a union (e.g. one upstream or a list of them), the branch that got furthest says best what
 * is wrong: its issue, with the union's path in front.
 */
function mostSpecific(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  const candidates = issue.errors.map((branch) => branch[0]).filter((i): i is z.core.$ZodIssue => i !== undefined);
  const rank = (i: z.core.$ZodIssue) => i.path.length * 2 + (i.code === 'invalid_type' ? 0 : 1);
  const best = candidates.sort((a, b) => rank(b) - rank(a))[0];
  if (!best) return issue;
  const inner = mostSpecific(best);
  return { ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue;
}

/** `envSources`: config path (dotted) → the env var that set it. */
export function describeIssue(reported: z.core.$ZodIssue, envSources: ReadonlyMap<string, string>): string {
  const issue = mostSpecific(reported);
  const field = issue.path.map(String).join('.') || '(top level)';
  // Name the env var when the bad value came from one (or from a parent of the path), unless
  // the refusal is about how several fields combine.
  const crossField = issue.code === 'custom' && issue.params?.crossField === true;
  const source = crossField ? undefined : [...envSources.entries()].find(([p]) => field === p || field.startsWith(`${p}.`))?.[1];
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    message = `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  return `Invalid configuration: ${field}${source ? ` (from ${source})` : ''}: ${message}`;
}
