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
 * and control characters dropped so it cannot break out of its quotes on a page or in a log.
 * Callers pass only values that are no secret (client ids, URLs reduced to origin + path, scopes).
 */
export function quote(value: unknown): string {
  // eslint-disable-next-line no-control-regex
  const text = String(value ?? '').replace(/[`\u0000-\u001f\u007f]/g, '');
  return `\`${text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text}\``;
}

/** `a`, `b` and `c`, for a list of quoted values (at most `max`, then "and n more"). */
export function quoteList(values: readonly unknown[], max = 3): string {
  const shown = values.slice(0, max).map(quote);
  const more = values.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}
