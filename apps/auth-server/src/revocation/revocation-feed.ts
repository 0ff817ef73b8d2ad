/**
 * The auth-server's side of the revocation feed (format and meaning: apps/shared/revocation-entry.ts).
 * Management code records a revocation here when it happens; `/oauth/revocations` serves the
 * entries; the sweeper prunes those no unexpired token can match any more.
 *
 * - An entry is kept for the access token lifetime plus `LEEWAY_SECONDS` after it was recorded:
 *   every token it refuses was issued before it, so expires within that time. Verifiers refuse
 *   tokens whose lifetime exceeds the configured one, so a forged long-lived token cannot outlast
 *   its entry.
 * - Recording joins the caller's transaction when there is one (better-sqlite3 nests them), so an
 *   entry is published exactly when the change it belongs to commits, and never without it.
 * - Deliberately not here: deciding what to revoke. Callers (grant, user, client and key
 *   administration, the provider's own grant revocations) know that.
 */
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { Db } from '../../../shared/database.ts';
import { revocationValue, type RevocationEntry, type RevocationFeedPage, type RevocationKind } from '../../../shared/revocation-entry.ts';

/** Seconds an entry outlives the token lifetime: clock skew between the apps and the verifier's leeway. */
export const LEEWAY_SECONDS = 60;
/** Most entries one page of the feed carries. */
export const MAX_PAGE = 1000;

export interface RevocationFeedOptions {
  /** Longest access token lifetime, in seconds. */
  tokenLifetime: number;
  /** Stamps entries and expires them. Default is systemClock. */
  clock?: Clock;
}

export class RevocationFeed {
  readonly #insert;
  readonly #page;
  readonly #prune;
  readonly #latest;
  readonly #refuses;
  readonly #feed: string;
  readonly #tokenLifetime: number;
  readonly #clock: Clock;

  constructor(db: Db, options: RevocationFeedOptions) {
    this.#tokenLifetime = options.tokenLifetime;
    this.#clock = options.clock ?? systemClock;
    this.#insert = db.prepare('INSERT INTO revocations (kind, value, issued_before, expires_at) VALUES (?, ?, ?, ?)');
    this.#page = db.prepare(`SELECT seq, kind, value, issued_before, expires_at FROM revocations
      WHERE seq > @after AND expires_at > @now ORDER BY seq LIMIT @limit`);
    this.#prune = db.prepare('DELETE FROM revocations WHERE expires_at <= ?');
    // AUTOINCREMENT keeps the highest seq ever used in sqlite_sequence, pruned rows included.
    this.#latest = db.prepare("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'revocations'), 0)").pluck();
    this.#feed = db.prepare('SELECT feed FROM revocation_feed WHERE id = 1').pluck().get() as string;
    this.#refuses = db.prepare(`SELECT 1 FROM revocations WHERE expires_at > @now AND issued_before >= @iat AND (
      (kind = 'sub' AND value = @sub) OR (kind = 'client' AND value = @client) OR (kind = 'grant' AND value = @grant)
      OR (kind = 'token' AND value = @token) OR (kind = 'kid' AND value = @kid)) LIMIT 1`).pluck();
  }

  /** Refuses every token of this user issued until now (disabled, deleted). */
  revokeSubject(accountId: string): void {
    this.#record('sub', revocationValue('sub', accountId));
  }

  /** Refuses every token of this client issued until now (deleted). */
  revokeClient(clientId: string): void {
    this.#record('client', revocationValue('client', clientId));
  }

  /**
   * Refuses every token of this grant (revoked by an admin, the user, reuse detection or
   * /oauth/revoke), whenever it was issued. The provider checks the grant when a token request
   * starts and sets `iat` when it mints, so a refresh in flight can mint a token in the second
   * after the revocation; a grant id is never reused, so no legitimate token is refused with it.
   */
  revokeGrant(grantId: string): void {
    this.#record('grant', revocationValue('grant', grantId), { everyToken: true });
  }

  /** Refuses one access token, by its `jti` (its client revoked it at /oauth/revoke). */
  revokeToken(jti: string): void {
    this.#record('token', revocationValue('token', jti));
  }

  /** Refuses every token signed with this key (retired on purpose). */
  retireKey(kid: string): void {
    this.#record('kid', kid);
  }

  /** Tells verifiers the key set changed (rotation), so they reload it before the new key signs. */
  keysChanged(): void {
    this.#record('keys', '');
  }

  /**
   * Whether an entry refuses this access token, as a verifier following the feed would decide
   * (token exchange checks its subject token here, so it never outlives what the feed refuses).
   */
  refuses(token: { sub: string; clientId: string; grantId: string; jti: string; kid: string; iat: number }): boolean {
    return this.#refuses.get({
      now: this.#seconds(),
      iat: token.iat,
      sub: revocationValue('sub', token.sub),
      client: revocationValue('client', token.clientId),
      grant: revocationValue('grant', token.grantId),
      token: revocationValue('token', token.jti),
      kid: token.kid,
    }) !== undefined;
  }

  /** Entries after `after`, oldest first, at most `limit` (≤ MAX_PAGE). */
  page(after: number, limit = MAX_PAGE): RevocationFeedPage {
    const take = Math.min(Math.max(1, limit), MAX_PAGE);
    const entries = this.#page.all({ after, now: this.#seconds(), limit: take + 1 }) as RevocationEntry[];
    const complete = entries.length <= take;
    if (!complete) entries.length = take;
    return { feed: this.#feed, entries, next: entries.at(-1)?.seq ?? after, latest: this.#latest.get() as number, complete };
  }

  /** Deletes the entries no unexpired token can match; returns how many. */
  prune(): number {
    return this.#prune.run(this.#seconds()).changes;
  }

  #seconds(): number {
    return this.#clock.epochSeconds();
  }

  #record(kind: RevocationKind, value: string, options: { everyToken?: boolean } = {}): void {
    const now = this.#seconds();
    const expiresAt = now + this.#tokenLifetime + LEEWAY_SECONDS;
    // everyToken: the entry's expiry as cut-off catches every token of a grant that is gone.
    this.#insert.run(kind, value, options.everyToken ? expiresAt : now, expiresAt);
  }
}
