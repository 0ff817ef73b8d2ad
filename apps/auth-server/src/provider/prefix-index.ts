/**
 * Lookups by grant id, and grants by account or client, through indexes on the first 8
 * characters of those ids instead of the whole (migrations/sqlite/auth-server/019_prefix_indexes.sql).
 *
 * - Why: every refresh token (live, and its consumed tombstones) has an entry in the grant-id
 *   index, and every grant one in the account and client indexes. Grant and client ids are 43
 *   characters, account ids 36: whole, those entries cost about 130 bytes per issued-and-refreshed
 *   grant more than 8-character prefixes (bench/disk-per-grant.ts).
 * - The ids are random (oidc-provider's nanoid grant ids, DCR client ids, UUID accounts), so a
 *   prefix of 48 bits picks out the rows of one id; the whole id is still compared, so ids that
 *   share a prefix (a client id chosen by an admin, a CIMD URL) are never confused, they only
 *   cost a few more rows read.
 * - The planner uses an expression index only for the same expression: every query on these
 *   columns goes through `sameId`.
 */

/** Characters of an id the prefix indexes hold. */
const PREFIX = 8;

/** `column = param`, with the prefix comparison that lets the column's prefix index serve it. */
export function sameId(column: string, param: string): string {
  return `substr(${column}, 1, ${PREFIX}) = substr(${param}, 1, ${PREFIX}) AND ${column} = ${param}`;
}
