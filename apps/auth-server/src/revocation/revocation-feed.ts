/**
 * The auth-server's side of the revocation feed (format and meaning: apps/shared/revocation-entry.ts).
 * Management code records a revocation here when it happens; `/oauth/revocations` serves the
 * entries; the sweeper prunes those no unexpired token can match any more.
 *
 * - An entry is kept for the access token lifetime plus `LEEWAY_SECONDS` after it was recorded:
 *   every token it refuses was issued before it, so expires within that time. Verifiers refuse
 *   tokens whose lifetime exceeds the configured one, so a forged long-lived token cannot outlast
 *   its entry.
 * - Recording joins the caller's transaction when it passes one (`tx`), so an entry is published
 *   exactly when the change it belongs to commits, and never without it.
 * - Seqs become visible in seq order, so a follower's cursor never passes an entry that commits
 *   later. SQLite has one writer at a time, so that holds by itself. On PostgreSQL an identity
 *   value is taken when the row is inserted but seen when its transaction commits: two writers on
 *   two replicas could take 10 and 11 and commit 11 first, and a follower that read 11 would never
 *   ask for 10 again. So every insert first takes a transaction-scoped advisory lock
 *   (`FEED_LOCK`), held until its transaction ends: writers of the feed take seqs and commit one
 *   after another. The lock is released after the commit is visible, so whoever reads seq N can
 *   already read every seq below it.
 * - An entry is deleted before its expiry only in the transaction that records one covering it
 *   (a later cut-off of a grant, or of a client's tokens of an account: `revokeToken`): a follower
 *   that read it still holds it, one that starts over reads the later entry, which refuses
 *   everything it did for at least as long.
 * - Nothing is cached in-process except the feed id, which never changes for a database: every
 *   replica serves the same page for the same cursor.
 * - Deliberately not here: deciding what to revoke. Callers (grant, user, client and key
 *   administration, the provider's own grant revocations) know that.
 */
import { systemClock, type Clock } from '../../../shared/clock.ts';
import { USER_FRESH_MS } from '../accounts/user-store.ts';
import type { SqlDatabase, SqlExecutor } from '../../../shared/storage/sql-database.ts';
import { revocationValue, type RevocationEntry, type RevocationFeedPage, type RevocationKind } from '../../../shared/revocation-entry.ts';

/** Seconds an entry outlives the token lifetime: clock skew between the apps and the verifier's leeway. */
export const LEEWAY_SECONDS = 60;
/**
 * How long after a user is disabled their `sub` entry still refuses new tokens: the user cache's
 * window (USER_FRESH_MS), rounded up to whole seconds as `iat` is, plus a second for the clocks
 * of replicas and the rounding of the disable's own second.
 */
export const SUBJECT_AFTER_SECONDS = Math.ceil(USER_FRESH_MS / 1000) + 1;
/**
 * How long after a client is deleted, or a service account disabled or narrowed, its `client`
 * entry still refuses new tokens: a token request reads its client when it authenticates and
 * signs later (a private_key_jwt client's jwks_uri alone may take 2.5 s), so one in flight
 * during the change minted a token in a later second than the entry's cut-off, carrying a removed
 * scope (or from a disabled account) for a whole token lifetime, with no grant entry behind it.
 */
export const CLIENT_AFTER_SECONDS = 5;
/**
 * Most live `token` entries one account (a token's `sub`: a user, or a service account's client id)
 * holds, over all its grants and clients. Each lives for a token lifetime, and a client can refresh
 * and revoke in a loop (300 a minute from one address under the token rate limit): past this,
 * `revokeToken` publishes one cut-off for the revoked token's grant instead of another token entry.
 * Apps revoke an access token when they sign out or drop it, a few times a token lifetime; 20 of
 * one account's is a loop, and passing it costs only the looping grant's app a refresh. Counted by
 * account, not grant: each sign-in makes a new grant, which would start a count of its own.
 */
export const MAX_TOKEN_ENTRIES_PER_SUBJECT = 20;
/**
 * Most live entries one account's revoked tokens hold before its clients' cut-offs: its token
 * entries and its grants' cut-offs (one a grant, each replacing the grant's earlier one). A grant
 * gets a cut-off only once the account holds MAX_TOKEN_ENTRIES_PER_SUBJECT token entries, so
 * reaching 60 takes 40 grants revoking tokens within one token lifetime, where a person's apps hold
 * a handful: by the authorization code flow 40 authorizations, but an ID-JAG client
 * (admin-configured, trusted) gets a new grant with every token, so it gets there with 60
 * assertions and no one signing in. Past it `revokeToken` publishes one `client_sub` cut-off of
 * the revoking client's tokens of the account, replacing that client's earlier one: what one
 * account puts on the feed stays bounded (60, and one cut-off per client holding its tokens, each
 * of which the user authorized or an admin configured) however many grants it makes, and the
 * account's other apps are untouched.
 */
export const MAX_ENTRIES_PER_SUBJECT = 60;
/** Most entries one page of the feed carries. */
export const MAX_PAGE = 1000;

export interface RevocationFeedOptions {
  /** Longest access token lifetime, in seconds. */
  tokenLifetime: number;
  /** Stamps entries and expires them. Default is systemClock. */
  clock?: Clock;
}

/**
 * pg_advisory_xact_lock key serialising the feed's writers (see above): "gh-revoc" in ASCII, so it
 * is recognisable in pg_locks and distinct from the migration lock.
 */
const FEED_LOCK = '7451255552836267875';
const TAKE_FEED_LOCK = `SELECT pg_advisory_xact_lock(${FEED_LOCK}) AS locked`;

const INSERT = 'INSERT INTO revocations (kind, value, issued_before, expires_at, subject_value) VALUES (?, ?, ?, ?, ?)';

/** The highest seq ever assigned, pruned rows and (on PostgreSQL) rolled-back inserts included. */
const LATEST = {
  // AUTOINCREMENT keeps the highest seq ever used in sqlite_sequence.
  sqlite: "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'revocations'), 0) AS latest",
  // The identity's sequence; NULL until its first use. Never below a committed seq.
  postgres: "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('revocations', 'seq')), 0) AS latest",
};

/** What `revokeToken` needs of a token beyond its jti: its `sub`, `iat`, `client_id` and `gid`. */
export interface RevokedTokenSubject {
  sub: string;
  iat: number;
  clientId: string;
  grantId?: string;
}

/** INSERT's values: kind, value, issued_before, expires_at, subject_value. */
type Row = [RevocationKind, string, number, number, string | null];

export class RevocationFeed {
  readonly #db: SqlDatabase;
  readonly #tokenLifetime: number;
  readonly #clock: Clock;
  /** The feed id: written by the first migration, never changed, so read once. */
  #feed?: Promise<string>;

  constructor(db: SqlDatabase, options: RevocationFeedOptions) {
    this.#db = db;
    this.#tokenLifetime = options.tokenLifetime;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Refuses every token of this user (disabled) issued until now and in the next
   * SUBJECT_AFTER_SECONDS. Another process (a replica, or the server beside the CLI) may see the
   * user as active for up to USER_FRESH_MS after the change (user-store.ts) and mint a token in
   * that time on a grant the disable could not revoke, because it did not exist yet: a jwt-bearer
   * (ID-JAG) request makes a new grant for each token, a consent in flight makes one. A user
   * enabled again at once finds the tokens of those seconds refused, and refreshes them.
   */
  revokeSubject(accountId: string, tx?: SqlExecutor): Promise<void> {
    return this.#record('sub', revocationValue('sub', accountId), { afterSeconds: SUBJECT_AFTER_SECONDS }, tx);
  }

  /**
   * Refuses every token of this client issued until now and in the next CLIENT_AFTER_SECONDS
   * (deleted; a service account disabled or narrowed, which then gets its tokens again after
   * those seconds).
   */
  revokeClient(clientId: string, tx?: SqlExecutor): Promise<void> {
    return this.#record('client', revocationValue('client', clientId), { afterSeconds: CLIENT_AFTER_SECONDS }, tx);
  }

  /**
   * Refuses every token of this grant (revoked by an admin, the user, reuse detection or
   * /oauth/revoke), whenever it was issued. The provider checks the grant when a token request
   * starts and sets `iat` when it mints, so a refresh in flight can mint a token in the second
   * after the revocation; a grant id is never reused, so no legitimate token is refused with it.
   */
  revokeGrant(grantId: string, tx?: SqlExecutor): Promise<void> {
    return this.#record('grant', revocationValue('grant', grantId), { everyToken: true }, tx);
  }

  /**
   * Refuses one access token, by its `jti` (its client revoked it at /oauth/revoke), unless a live
   * entry already does: revoking a revoked token changes nothing (RFC 7009 §2.2).
   *
   * The token (`subject`: its `sub`, `iat`, `client_id` and grant, `gid`) counts against its account's
   * MAX_TOKEN_ENTRIES_PER_SUBJECT, whatever its grant or client: each sign-in makes a new grant, so
   * a count per grant bounded nothing. Past them, a `grant` entry refuses the token's grant's
   * tokens issued up to this one's `iat`, replacing the grant's earlier such cut-off: the grant and
   * its refresh token live on and later tokens work, its unrevoked tokens of that second or before
   * are refused, and the account's other grants (its other apps) are untouched. These cut-offs
   * count toward the account's MAX_ENTRIES_PER_SUBJECT; past that, or past the first cap for a
   * token without a grant (a service account's, whose `sub` is its client id, never a UUID as user
   * ids are), a `client_sub` entry refuses this client's tokens of the account up to this one's
   * `iat` instead, replacing the client's earlier such cut-off. It counts toward the account too,
   * so each client of the account holds at most one; never a `sub` entry, which would refuse the
   * account's other apps' tokens. One transaction holding the feed's lock counts and writes, so
   * revocations of one account at once, on any replica, never pass the bounds.
   */
  revokeToken(jti: string, subject?: RevokedTokenSubject, tx?: SqlExecutor): Promise<void> {
    if (tx) return this.#revokeToken(jti, subject, tx);
    return this.#db.transaction((own) => this.#revokeToken(jti, subject, own));
  }

  /** Refuses every token signed with this key (retired on purpose). */
  retireKey(kid: string, tx?: SqlExecutor): Promise<void> {
    return this.#record('kid', kid, {}, tx);
  }

  /** Tells verifiers the key set changed (rotation), so they reload it before the new key signs. */
  keysChanged(tx?: SqlExecutor): Promise<void> {
    return this.#record('keys', '', {}, tx);
  }

  /**
   * Whether an entry refuses this access token, as a verifier following the feed would decide
   * (token exchange checks its subject token here, so it never outlives what the feed refuses).
   * As apps/shared/revocation-entry.ts defines the kinds, and the resource server's
   * revocation-list.ts applies them: `kid` and `token` entries refuse their tokens whatever their
   * `iat` (a retired key may have signed a token with any `iat`, and its entry's `issued_before`
   * is only when it was retired); `sub`, `client`, `client_sub` and `grant` only those issued up
   * to `issued_before`.
   */
  async refuses(token: { sub: string; clientId: string; grantId: string; jti: string; kid: string; iat: number }): Promise<boolean> {
    const row = await this.#db.get(`SELECT 1 AS refused FROM revocations WHERE expires_at > @now AND (
      (kind = 'kid' AND value = @kid) OR (kind = 'token' AND value = @token)
      OR (issued_before >= @iat AND ((kind = 'sub' AND value = @sub) OR (kind = 'client' AND value = @client)
        OR (kind = 'client_sub' AND value = @clientSub) OR (kind = 'grant' AND value = @grant)))) LIMIT 1`, {
      now: this.#seconds(),
      iat: token.iat,
      sub: revocationValue('sub', token.sub),
      client: revocationValue('client', token.clientId),
      clientSub: revocationValue('client_sub', `${token.clientId} ${token.sub}`),
      grant: revocationValue('grant', token.grantId),
      token: revocationValue('token', token.jti),
      kid: token.kid,
    });
    return row !== undefined;
  }

  /** Entries after `after`, oldest first, at most `limit` (≤ MAX_PAGE). */
  async page(after: number, limit = MAX_PAGE): Promise<RevocationFeedPage> {
    const take = Math.min(Math.max(1, limit), MAX_PAGE);
    const feed = await this.#feedId();
    const entries = await this.#db.all<RevocationEntry>(`SELECT seq, kind, value, issued_before, expires_at FROM revocations
      WHERE seq > @after AND expires_at > @now ORDER BY seq LIMIT @limit`, { after, now: this.#seconds(), limit: take + 1 });
    // Read after the entries, so `latest` is never below the last of them.
    const { latest } = (await this.#db.get<{ latest: number }>(LATEST[this.#db.dialect]))!;
    const complete = entries.length <= take;
    if (!complete) entries.length = take;
    return { feed, entries, next: entries.at(-1)?.seq ?? after, latest, complete };
  }

  /** Deletes the entries no unexpired token can match; returns how many. */
  async prune(): Promise<number> {
    return (await this.#db.run('DELETE FROM revocations WHERE expires_at <= ?', [this.#seconds()])).changes;
  }

  #feedId(): Promise<string> {
    // A failed read is not kept: the next page asks again.
    this.#feed ??= this.#db.get<{ feed: string }>('SELECT feed FROM revocation_feed WHERE id = 1').then(
      (row) => row!.feed,
      (err: unknown) => {
        this.#feed = undefined;
        throw err;
      },
    );
    return this.#feed;
  }

  #seconds(): number {
    return this.#clock.epochSeconds();
  }

  async #revokeToken(jti: string, subject: RevokedTokenSubject | undefined, tx: SqlExecutor): Promise<void> {
    if (tx.dialect === 'postgres') await tx.get(TAKE_FEED_LOCK);
    const value = revocationValue('token', jti);
    if (!subject) {
      if (!(await this.#refused(tx, { value }))) await tx.run(INSERT, this.#row('token', value, {}));
      return;
    }
    const subjectValue = revocationValue('sub', subject.sub);
    const grantValue = subject.grantId === undefined ? null : revocationValue('grant', subject.grantId);
    const clientSubValue = revocationValue('client_sub', `${subject.clientId} ${subject.sub}`);
    if (await this.#refused(tx, { value, subject: subjectValue, clientSub: clientSubValue, grant: grantValue, iat: subject.iat })) return;
    const { tokens, held } = (await tx.get<{ tokens: number; held: number }>(`SELECT
      count(CASE WHEN kind = 'token' THEN 1 END) AS tokens, count(*) AS held
      FROM revocations WHERE subject_value = ? AND expires_at > ?`, [subjectValue, this.#seconds()]))!;
    switch (entryForRevokedToken({ tokens, held }, grantValue !== null)) {
      case 'token':
        await tx.run(INSERT, this.#row('token', value, { subjectValue }));
        return;
      case 'grant':
        await this.#cutOff(tx, this.#row('grant', grantValue!, { issuedBefore: subject.iat, subjectValue }));
        return;
      case 'client_sub':
        await this.#cutOff(tx, this.#row('client_sub', clientSubValue, { issuedBefore: subject.iat, subjectValue }));
    }
  }

  /**
   * Whether a live entry already refuses the token: its own, or a cut-off of its account, of its
   * client's tokens of the account or of its grant at or after its iat (these caps', a disabled
   * user's, a revoked grant's).
   */
  async #refused(tx: SqlExecutor, token: { value: string; subject?: string; clientSub?: string; grant?: string | null; iat?: number }): Promise<boolean> {
    // `value IN` first: the revocations_value index finds the few candidates; the ORs would scan.
    const row = await tx.get(`SELECT 1 AS refused FROM revocations WHERE value IN (@value, @subject, @clientSub, @grant) AND expires_at > @now AND (
      (kind = 'token' AND value = @value) OR (issued_before >= @iat AND ((kind = 'sub' AND value = @subject)
        OR (kind = 'client_sub' AND value = @clientSub) OR (kind = 'grant' AND value = @grant)))) LIMIT 1`,
    { now: this.#seconds(), value: token.value, subject: token.subject ?? null, clientSub: token.clientSub ?? null, grant: token.grant ?? null, iat: token.iat ?? null });
    return row !== undefined;
  }

  /**
   * Writes a cut-off (`client_sub` or `grant`) and deletes the entries of that kind and value it covers:
   * only one that refuses no later token, for no longer. A disabled user's `sub` entry or a revoked
   * grant's entry refuses every token up to then or later, so the token was refused before any
   * cut-off is written; one written under a longer token lifetime expires later, and stays.
   */
  async #cutOff(tx: SqlExecutor, row: Row): Promise<void> {
    const [kind, value, issuedBefore, expiresAt] = row;
    await tx.run('DELETE FROM revocations WHERE kind = ? AND value = ? AND issued_before <= ? AND expires_at <= ?', [kind, value, issuedBefore, expiresAt]);
    await tx.run(INSERT, row);
  }

  #row(kind: RevocationKind, value: string, options: { everyToken?: boolean; afterSeconds?: number; issuedBefore?: number; subjectValue?: string | null }): Row {
    const now = this.#seconds();
    const expiresAt = now + this.#tokenLifetime + LEEWAY_SECONDS;
    // everyToken: the entry's expiry as cut-off catches every token of a grant that is gone.
    const issuedBefore = options.everyToken ? expiresAt : options.issuedBefore ?? now + (options.afterSeconds ?? 0);
    return [kind, value, issuedBefore, expiresAt, options.subjectValue ?? null];
  }

  async #record(kind: RevocationKind, value: string, options: { everyToken?: boolean; afterSeconds?: number }, tx?: SqlExecutor): Promise<void> {
    const row = this.#row(kind, value, options);
    if (tx) return insertInOrder(tx, row);
    // One statement on SQLite's single writer is already in order; run at once, not queued.
    if (this.#db.dialect === 'sqlite') {
      await this.#db.run(INSERT, row);
      return;
    }
    await this.#db.transaction((own) => insertInOrder(own, row));
  }
}

/**
 * Which entry a revoked token of an account gets, from the live entries the account holds (`held`,
 * of which `tokens` are token entries): its own while the account holds fewer than
 * MAX_TOKEN_ENTRIES_PER_SUBJECT; then a cut-off of its grant; past MAX_ENTRIES_PER_SUBJECT, or
 * for a token without a grant, a cut-off of its client's tokens of the account (`revokeToken`).
 */
function entryForRevokedToken({ tokens, held }: { tokens: number; held: number }, hasGrant: boolean): 'token' | 'grant' | 'client_sub' {
  if (held >= MAX_ENTRIES_PER_SUBJECT) return 'client_sub';
  if (tokens < MAX_TOKEN_ENTRIES_PER_SUBJECT) return 'token';
  return hasGrant ? 'grant' : 'client_sub';
}

/** Inserts one entry inside `tx`, after taking the feed's lock on PostgreSQL (see the top). */
async function insertInOrder(tx: SqlExecutor, row: Row): Promise<void> {
  if (tx.dialect === 'postgres') await tx.get(TAKE_FEED_LOCK);
  await tx.run(INSERT, row);
}
