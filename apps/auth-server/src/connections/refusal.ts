import { cutText } from '../../../shared/cut-text.ts';
import { escapeControlCharacters } from '../../../shared/escape-control-characters.ts';

/**
 * A refusal as a connection event carries it: the RFC error code the client got, the stable
 * `reasonCode` (a metric label, so only values written in this folder) and the plain-words
 * `reason` an admin can act on.
 */
export interface Refusal {
  error?: string;
  reasonCode: string;
  reason: string;
}

const MAX_QUOTED = 200;

/**
 * A value from a request, quoted for a reason: in backticks, at most 200 characters, backticks
 * dropped and control characters shown escaped (escape-control-characters.ts) so it cannot break
 * out of its quotes on a page, in a log or on the CLI's terminal. Callers pass only values that are
 * no secret (client ids, URLs reduced to origin + path, scopes).
 */
export function quote(value: unknown): string {
  const text = String(value ?? '').replace(/`/g, '');
  return `\`${escapeControlCharacters(cutText(text, MAX_QUOTED, '…'))}\``;
}

/** `a`, `b` and `c`, for a list of quoted values (at most `max`, then "and n more"). */
export function quoteList(values: readonly unknown[], max = 3): string {
  const shown = values.slice(0, max).map(quote);
  const more = values.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}
