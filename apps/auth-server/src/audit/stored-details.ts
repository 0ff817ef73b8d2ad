/**
 * How an audit event's `details` are stored: the fields that lead most events' details and
 * repeat across them get columns of their own, the rest stays JSON.
 *
 * - `grant_id` (new with each grant, so text in its own column), `scope` and `resource` (the same
 *   for many grants, so numbers into the values table) are taken out only while they lead the
 *   details, in this order, each a string: putting them back first gives the same object, keys
 *   in the same order, as was written. Any other shape stays whole in `rest`.
 * - A code exchange's event keeps {grant_id, scope, resource}, a refresh's {grant_id}: about
 *   150 bytes less per issued-and-refreshed grant than their JSON (bench/disk-per-grant.ts).
 */
export interface SplitDetails {
  grantId: string | null;
  scope: string | null;
  resource: string | null;
  /** The remaining details as JSON (`{}` when none remain). */
  rest: string;
}

const LEADING = ['grant_id', 'scope', 'resource'] as const;

export function splitDetails(details: Record<string, unknown>): SplitDetails {
  const taken: Record<(typeof LEADING)[number], string | null> = { grant_id: null, scope: null, resource: null };
  // Keys whose value is undefined are not written (JSON has no undefined).
  const entries = Object.entries(details).filter(([, value]) => value !== undefined);
  let next = 0;
  let used = 0;
  for (const [key, value] of entries) {
    const at = LEADING.indexOf(key as (typeof LEADING)[number], next);
    if (at === -1 || typeof value !== 'string') break;
    taken[LEADING[at]!] = value;
    next = at + 1;
    used += 1;
  }
  const rest = used === 0 ? details : Object.fromEntries(entries.slice(used));
  return { grantId: taken.grant_id, scope: taken.scope, resource: taken.resource, rest: JSON.stringify(rest) };
}

/** The details as written: the leading fields first, then the rest. */
export function joinDetails(grantId: string | null, scope: string | null, resource: string | null, rest: string): Record<string, unknown> {
  const remaining = JSON.parse(rest) as Record<string, unknown>;
  if (grantId === null && scope === null && resource === null) return remaining;
  return {
    ...(grantId !== null ? { grant_id: grantId } : {}),
    ...(scope !== null ? { scope } : {}),
    ...(resource !== null ? { resource } : {}),
    ...remaining,
  };
}
