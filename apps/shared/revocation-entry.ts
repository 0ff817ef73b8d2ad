/**
 * The revocation feed's wire format, shared by the auth-server (which publishes it at
 * `/oauth/revocations`) and the resource server (which follows it).
 *
 * Access tokens are RS256 JWTs verified locally, so revoking a grant, disabling a user, deleting a
 * client or retiring a key cannot reach a token that was already issued. The feed closes that gap
 * the way a certificate revocation list does: it is an append-only list of entries, each saying
 * "refuse access tokens that match this and were issued at or before `issued_before`", kept only
 * while such a token could still be unexpired. Verifiers poll it with a cursor (`seq`).
 *
 * Kinds:
 * - `sub`, `client`, `grant`: tokens whose `sub`, `client_id` or `gid` (the grant id) matches and
 *   whose `iat` ≤ `issued_before`. The value is a hash of the identifier (see `revocationValue`),
 *   so the public feed names no user, client or grant. A revoked grant's entry has its
 *   `expires_at` as `issued_before`: every token of the grant is refused, even one minted just after the
 *   revocation by a token request that was already under way.
 * - `token`: the one access token whose `jti` matches (revoked by its client at /oauth/revoke). Past
 *   a few of one account's (its `sub`, over all its grants and clients), the auth-server publishes
 *   a `grant` entry whose `issued_before` is the revoked token's `iat` instead, and past many of
 *   those (or for a token without a grant) a `client_sub` entry; it deletes the earlier entries of
 *   that kind and value the new one covers (cutting off no later, expiring no later).
 * - `client_sub`: tokens whose `client_id` and `sub` both match and whose `iat` ≤ `issued_before`:
 *   one client's tokens of one account, so a client revoking in a loop cuts off only its own
 *   tokens, never the account's other apps'. The value hashes both (`${client_id} ${sub}`).
 * - `kid`: every token signed with this key (the key was retired on purpose); the value is the kid.
 * - `keys`: no token is refused; the key set changed (a rotation), so verifiers reload the JWKS.
 *
 * A verifier skips an entry of a kind it does not know (a later version's): it refuses nothing.
 */
import { createHash } from 'node:crypto';

export const REVOCATION_KINDS = ['sub', 'client', 'client_sub', 'grant', 'token', 'kid', 'keys'] as const;
export type RevocationKind = (typeof REVOCATION_KINDS)[number];

export interface RevocationEntry {
  /** Position in the feed; strictly increasing, never reused. */
  seq: number;
  kind: RevocationKind;
  value: string;
  /** Epoch seconds: tokens with `iat` at or before this are refused. */
  issued_before: number;
  /** Epoch seconds after which no matching token can be unexpired; the entry may be forgotten. */
  expires_at: number;
}

export interface RevocationFeedPage {
  /** Identifies this feed; a different value means the feed was reset and a follower starts over. */
  feed: string;
  entries: RevocationEntry[];
  /** The cursor to ask with next (`?after=`). */
  next: number;
  /**
   * The highest `seq` this feed ever assigned. A follower whose cursor is beyond it is following a
   * feed that went backwards (a database restored from a backup) and starts over.
   */
  latest: number;
  /** False when more entries follow after `next`. */
  complete: boolean;
}

/**
 * The feed value for a token identifier (for `client_sub`, the client id and the sub joined by a
 * space, which no client id holds: static ones are letters, digits and `._-`, registered ones
 * random, CIMD ones URLs): SHA-256 over a domain-separated string, base64url. The
 * identifiers are not secrets; hashing keeps a public feed from listing which users, clients and
 * grants were revoked, while a verifier holding a token can still compute the same value.
 */
export function revocationValue(kind: 'sub' | 'client' | 'client_sub' | 'grant' | 'token', identifier: string): string {
  return createHash('sha256').update(`gatehouse-revocation:${kind}:${identifier}`, 'utf8').digest('base64url');
}
