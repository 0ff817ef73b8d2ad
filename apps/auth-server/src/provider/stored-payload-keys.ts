/**
 * Short names for the fields of stored grant, authorization code and refresh token payloads:
 * one letter instead of oidc-provider's own name, written by the adapter and put back on every
 * read (stored-form.ts), so the provider only ever sees its own names.
 *
 * - Why: these are the rows that grow with use (a grant row, a code, two refresh-token rows per
 *   issued-and-refreshed grant), and their field names were about a third of their payloads
 *   (a live refresh token: `authTime`, `iiat`, `gty`, `resource`, `rotations`, … 47 of its 189
 *   bytes): 143 bytes less per grant at 1k grants (2,818 -> 2,675 B, bench/disk-per-grant.ts).
 * - Only the top-level fields, and only those Gatehouse's rows hold; any other field (from
 *   a feature switched on later, or an upgrade) is stored under its own name and read back as
 *   it is. Nested fields keep theirs: a grant's `resources` are keyed by resource URL.
 * - No short name is an oidc-provider field name (those are all longer than one letter), so a
 *   field kept under its own name is never taken for a short one.
 * - Never change or reuse a short name: stored rows keep theirs. Migration 021 (PostgreSQL 015)
 *   renamed the fields of rows stored before.
 */

/** oidc-provider's field name → the name it is stored under. */
const SHORT_NAMES: Readonly<Record<string, string>> = {
  iat: 'i', exp: 'e', iiat: 'f', authTime: 'a', gty: 'g', resource: 'r', rotations: 'n', scope: 's',
  codeChallenge: 'c', codeChallengeMethod: 'm', redirectUri: 'u', openid: 'o', resources: 'R', rejected: 'x',
};
const LONG_NAMES: ReadonlyMap<string, string> = new Map(Object.entries(SHORT_NAMES).map(([long, short]) => [short, long]));

/** The name a field is stored under. */
export function storedKey(name: string): string {
  return SHORT_NAMES[name] ?? name;
}

/** A copy of `payload` with its fields under their stored names. */
export function toStoredKeys(payload: Record<string, unknown>): Record<string, unknown> {
  const stored: Record<string, unknown> = {};
  for (const key in payload) stored[SHORT_NAMES[key] ?? key] = payload[key];
  return stored;
}

/** A copy of a stored payload with its fields under oidc-provider's names. */
export function fromStoredKeys(stored: Record<string, unknown>): Record<string, unknown> {
  const payload: Record<string, unknown> = {};
  for (const key in stored) payload[LONG_NAMES.get(key) ?? key] = stored[key];
  return payload;
}
