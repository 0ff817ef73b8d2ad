/**
 * The resource server's copy of the auth-server's revocation feed (apps/shared/revocation-entry.ts),
 * and the question every request asks of it: is this token refused?
 *
 * - A token is refused when an entry names its `sub`, `client_id`, both together (`client_sub`)
 *   or `gid` (hashed, as the feed publishes them) and the token was issued at or before the entry's
 *   `issued_before`, or when an entry names the token itself (`jti`, hashed) or the key that signed
 *   it (`kid`).
 * - Matching costs at most six Map lookups; the hashes are computed once per token (`tokenMatch`), when
 *   the token is first verified, and cached with it.
 * - Entries are forgotten after their `expires_at`: every token they could refuse has expired.
 *   Except a retired key's (`kid`), kept for the life of this process: the entry also refuses
 *   tokens forged with a leaked key at any time, and the key set this server reloaded when the
 *   entry arrived may still list the key (the auth-server publishes it until it has noticed the
 *   retirement: another replica, or the CLI's change within `signing.reload_interval`), cached
 *   longer than a short token lifetime. A kid is a key's thumbprint, never reused; there are as
 *   many as keys retired.
 * - Deliberately not here: fetching the feed or knowing whether this copy is current
 *   (follow-revocation-feed.ts does both).
 */
import { revocationValue, type RevocationEntry } from '../../../shared/revocation-entry.ts';

/** What the feed can name about one token, hashed as the feed names it. */
export interface TokenMatch {
  sub: string;
  client: string;
  /** The client and the sub together: one client's tokens of one account. */
  clientSub: string;
  grant?: string;
  token: string;
  /** The signing key's id; the verifier refuses a token without one. */
  kid: string;
  /** `iat`, epoch seconds. */
  issuedAt: number;
}

export function tokenMatch(token: { sub: string; clientId: string; grantId?: string; jti: string; kid: string; issuedAt: number }): TokenMatch {
  return {
    sub: revocationValue('sub', token.sub),
    client: revocationValue('client', token.clientId),
    clientSub: revocationValue('client_sub', `${token.clientId} ${token.sub}`),
    token: revocationValue('token', token.jti),
    ...(token.grantId ? { grant: revocationValue('grant', token.grantId) } : {}),
    kid: token.kid,
    issuedAt: token.issuedAt,
  };
}

interface Held {
  issuedBefore: number;
  expiresAt: number;
}

/**
 * Which kind of feed entry refused a token: its user, its client, its client's tokens of its user,
 * its grant, the token itself, or its signing key.
 */
export type RevokedBy = 'sub' | 'client' | 'client_sub' | 'grant' | 'token' | 'kid';

/**
 * Whether `map` holds an entry for `value` cutting off tokens issued at `issuedAt`. A function of
 * the module, not a closure made per check: every request asks (under tsx a closure per request
 * also defined its name, about 0.5 % of a tools/call's CPU).
 */
function cutsOff(map: Map<string, Held>, value: string | undefined, issuedAt: number): boolean {
  const held = value === undefined ? undefined : map.get(value);
  return held !== undefined && issuedAt <= held.issuedBefore;
}

export class RevocationList {
  readonly #entries: Record<RevokedBy, Map<string, Held>> = {
    sub: new Map(), client: new Map(), client_sub: new Map(), grant: new Map(), token: new Map(), kid: new Map(),
  };

  /** Number of entries held. */
  get size(): number {
    return Object.values(this.#entries).reduce((n, map) => n + map.size, 0);
  }

  /** Adds entries; returns whether any of them changes the key set (`keys` or `kid`). */
  apply(entries: readonly RevocationEntry[]): boolean {
    let keysChanged = false;
    for (const entry of entries) {
      if (entry.kind === 'keys') {
        keysChanged = true;
        continue;
      }
      // A kind this version does not know refuses nothing; own keys only, so `__proto__` is unknown too.
      const map = Object.hasOwn(this.#entries, entry.kind) ? this.#entries[entry.kind as RevokedBy] : undefined;
      if (!map) continue;
      if (entry.kind === 'kid') keysChanged = true;
      const held = map.get(entry.value);
      // Of two entries for one value, the later cut-off covers the earlier one.
      if (!held || held.issuedBefore <= entry.issued_before) {
        map.set(entry.value, { issuedBefore: entry.issued_before, expiresAt: entry.expires_at });
      }
    }
    return keysChanged;
  }

  /** Which entry refuses this token (its user, client, client's of the user or grant, the token itself, or its key), or undefined. */
  refuses(token: TokenMatch): RevokedBy | undefined {
    if (this.#entries.kid.has(token.kid)) return 'kid';
    if (this.#entries.token.has(token.token)) return 'token';
    if (cutsOff(this.#entries.sub, token.sub, token.issuedAt)) return 'sub';
    if (cutsOff(this.#entries.client, token.client, token.issuedAt)) return 'client';
    if (cutsOff(this.#entries.client_sub, token.clientSub, token.issuedAt)) return 'client_sub';
    if (cutsOff(this.#entries.grant, token.grant, token.issuedAt)) return 'grant';
    return undefined;
  }

  /** Drops entries whose `expires_at` has passed at `nowSeconds`, but never a retired key's (see above). */
  forgetExpired(nowSeconds: number): void {
    for (const [kind, map] of Object.entries(this.#entries)) {
      if (kind === 'kid') continue;
      for (const [value, held] of map) if (held.expiresAt <= nowSeconds) map.delete(value);
    }
  }

}
