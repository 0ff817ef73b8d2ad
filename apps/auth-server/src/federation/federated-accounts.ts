/**
 * Who may enter through an upstream, and which local user they are.
 *
 * Admission (`admit`): with `allowed_domains` or `allowed_emails` set, the upstream must assert an
 * email with `email_verified: true`; the email must be listed, or its domain must be. Without
 * either list, everyone the upstream authenticates may enter.
 *
 * Linking (`link`): a local user is found by (upstream issuer, upstream subject) only — never by
 * email, which an upstream may reassign. The first sign-in creates the user (named by the email,
 * else `<upstream>-<sub>`); if that name already belongs to another local user, nothing is merged:
 * the sign-in is refused until an administrator links them. A name longer than a username may be
 * is cut and ends in a tag of the identity (`newUserName`), so two identities never get one name. An email holding a character that
 * makes it read as another (a control, a line separator, a bidirectional formatting character, as
 * registration/check-client-name.ts refuses in a client's name) counts as no email here: it neither
 * names the user nor is stored, since both are shown in the admin lists, the audit log and on
 * pages. Admission has looked at it already. A first sign-in that `<upstream>-<sub>` cannot name
 * either (the subject holds such a character too) is refused, and so is one whose name would have
 * the form of a user id (an upstream id that is the start of a UUID, `0f8fad5b`, and a subject that is the rest): where
 * an administrator names a user by id or username, it could be another user's id
 * (shared/username.ts). A subject that is not text is refused
 * before anything is looked up: half of a UTF-16 surrogate pair alone (a JSON escape can send one)
 * becomes U+FFFD on its way into PostgreSQL, so it would find, or make, the link of another subject
 * that differs only there (SQLite keeps bytes that are not UTF-8), and PostgreSQL's text refuses
 * NUL. `admin_users` (emails, matched against
 * the verified email only, or subjects without `@`, matched exactly) get `admin_scopes` on top of
 * `default_scopes`; with `new_users: pending` a new user waits for approval (admins listed in the
 * config do not).
 */
import { createHash } from 'node:crypto';
import type { IDToken } from 'openid-client';
import type { UpstreamConfig } from '../../../shared/config/federated-upstreams.ts';
import type { SqlDatabase, SqlExecutor } from '../../../shared/storage/sql-database.ts';
import { looksLikeUserId, USERNAME_MAX_LENGTH } from '../../../shared/username.ts';
import type { User, UserStore } from '../accounts/user-store.ts';
import { cutText } from '../../../shared/cut-text.ts';
import { wellFormed } from '../../../shared/well-formed.ts';
import { comparableEmail, isPlainEmail } from '../../../shared/email-address.ts';
import { CONFIG_ACTOR, type AuditLog } from '../audit/audit-log.ts';
import { hasUnshowableCharacter } from '../registration/check-client-name.ts';

export type Admission = { ok: true; email?: string } | { ok: false; reason: 'no_email' | 'email_unverified' | 'not_allowed' };

/** What linking reads of an upstream: federated sign-in's upstreams, and the trusted IdPs of ID-JAG (id-jag/). */
export type LinkingUpstream = Pick<UpstreamConfig, 'id' | 'issuer' | 'newUsers' | 'defaultScopes' | 'adminUsers' | 'adminScopes'>;

/** What recording a sign-in through an identity already linked reads of its upstream. */
type SigningInUpstream = Pick<LinkingUpstream, 'id' | 'issuer' | 'adminUsers' | 'adminScopes'>;

/** An upstream identity linked to a local user. */
export interface LinkedIdentity {
  issuer: string;
  subject: string;
  /** The upstream's (or trusted IdP's) id when it was linked. */
  upstreamId: string;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms: the last sign-in through it (its linking, until then). */
  lastUsedAt: number;
}

export type LinkResult =
  | { kind: 'user'; user: User; created: boolean }
  | { kind: 'conflict'; username: string }
  /** A first sign-in whose name (the email, else `<upstream>-<sub>`) would read as another: nobody is created. */
  | { kind: 'unnamed' }
  /** A first sign-in whose name would have the form of a user id (`<upstream>-<sub>` can): nobody is created. */
  | { kind: 'like_an_id'; username: string }
  /** The subject is not text (a lone surrogate, or NUL), or too long: nothing is looked up, linked or created. */
  | { kind: 'unreadable' };

/**
 * OIDC Core §2: a `sub` is at most 255 ASCII characters. A subject is part of a primary key, where
 * PostgreSQL refuses an entry of more than about 2.7 kB: a longer one was a 500 there.
 */
export const MAX_SUBJECT_BYTES = 255;

/** Whether an upstream subject is text that PostgreSQL and SQLite store as it is, in a key. */
function isStorableSubject(subject: string): boolean {
  return wellFormed(subject) === subject && !subject.includes('\u0000') && Buffer.byteLength(subject) <= MAX_SUBJECT_BYTES;
}

function verifiedEmail(claims: IDToken & Record<string, unknown>): { email?: string; verified: boolean } {
  // Compared as it is: an address padded with whitespace is not the one it reads as (email-address.ts).
  const email = typeof claims.email === 'string' ? comparableEmail(claims.email) : undefined;
  return { email, verified: claims.email_verified === true || claims.email_verified === 'true' };
}

export function admit(upstream: UpstreamConfig, claims: IDToken & Record<string, unknown>): Admission {
  const { email, verified } = verifiedEmail(claims);
  const restricted = upstream.allowedDomains.length > 0 || upstream.allowedEmails.length > 0;
  if (!restricted) return { ok: true, email: verified ? email : undefined };
  if (!email) return { ok: false, reason: 'no_email' };
  if (!verified) return { ok: false, reason: 'email_unverified' };
  const domain = email.slice(email.lastIndexOf('@') + 1);
  if (upstream.allowedEmails.includes(email) || upstream.allowedDomains.includes(domain)) return { ok: true, email };
  return { ok: false, reason: 'not_allowed' };
}

/** Hex digits of the identity's hash a cut name ends in: 48 bits, beyond reach of a search for a match. */
const CUT_NAME_TAG_LENGTH = 12;
const CUT_NAME = new RegExp(`^.{${USERNAME_MAX_LENGTH - CUT_NAME_TAG_LENGTH - 1}}-[0-9a-f]{${CUT_NAME_TAG_LENGTH}}$`, 's');

/**
 * A new federated user's name: the email, else `<upstream>-<sub>`. One longer than
 * USERNAME_MAX_LENGTH is cut, and then ends in `-` and a hash of (issuer, subject): cut bare, two
 * identities whose names differ only past the cut got one name, so the second was refused as a
 * conflict with the first, and an administrator told to link "the same person" gave both one
 * account (an email that is the victim's 64-character address plus `.attacker.test`; two
 * subjects alike in their first 55 characters).
 */
export function newUserName(upstream: Pick<LinkingUpstream, 'id' | 'issuer'>, subject: string, email: string | undefined): string {
  const name = email ?? `${upstream.id}-${subject}`;
  // The shape of a cut name is kept for cut names: a subject chosen to spell another identity's
  // cut name (its first 51 characters, `-`, its tag) is cut and tagged too, with its own tag.
  if (name.length <= USERNAME_MAX_LENGTH && !CUT_NAME.test(name)) return name;
  const tag = createHash('sha256').update(JSON.stringify([upstream.issuer, subject])).digest('hex').slice(0, CUT_NAME_TAG_LENGTH);
  return `${cutText(name, USERNAME_MAX_LENGTH - CUT_NAME_TAG_LENGTH - 1)}-${tag}`;
}

/** The email kept and shown for an identity, and whether the config names it among `admin_users`. */
function asserted(upstream: Pick<LinkingUpstream, 'adminUsers'>, subject: string, assertedEmail: string | undefined): { email?: string; isAdmin: boolean } {
  // A verified `\u202Emoc.elpmaxe@eve` is listed as eve@example.com, `\u3000eve@example.com` or
  // `e\u200bve@example.com` as eve@example.com too: not shown, not kept, and it names nobody.
  const email = assertedEmail !== undefined && !isPlainEmail(assertedEmail) ? undefined : assertedEmail;
  // An email-shaped entry names a verified email only: at upstreams where people choose their
  // own subject (their username), a subject spelling `ops@example.com` proves nothing about it.
  // Any other entry is a subject, compared exactly (case-sensitive, OIDC Core §2).
  const isAdmin = upstream.adminUsers.some((entry) => (entry.includes('@') ? entry === email : entry === subject));
  return { email, isAdmin };
}

/** Thrown inside the linking transaction to roll back the user it created: another replica linked this identity first. */
class LinkedElsewhere extends Error {}

export class FederatedAccounts {
  /** `audit`: where a sign-in that gives a configured admin their admin scopes back is recorded. */
  constructor(private readonly db: SqlDatabase, private readonly users: UserStore, private readonly audit?: AuditLog) {}

  /** The local user linked to (issuer, subject), without linking or creating anyone. */
  async findLinked(issuer: string, subject: string): Promise<User | undefined> {
    if (!isStorableSubject(subject)) return undefined;
    return this.#linkedUser(issuer, subject);
  }

  async #linkedUser(issuer: string, subject: string): Promise<User | undefined> {
    const row = await this.db.get<{ user_id: string }>('SELECT user_id FROM federated_identities WHERE issuer = ? AND subject = ?', [issuer, subject]);
    return row ? this.users.findById(row.user_id) : undefined;
  }

  async link(upstream: LinkingUpstream, claims: Pick<IDToken, 'sub'>, assertedEmail: string | undefined): Promise<LinkResult> {
    const subject = claims.sub;
    if (!isStorableSubject(subject)) return { kind: 'unreadable' };
    const { email, isAdmin } = asserted(upstream, subject, assertedEmail);
    const scopes = [...new Set([...upstream.defaultScopes, ...(isAdmin ? upstream.adminScopes : [])])];
    const now = Date.now();

    const linked = await this.#linkedUser(upstream.issuer, subject);
    if (linked) return { kind: 'user', user: await this.#signedInAgain(upstream, linked, subject, email, isAdmin, now), created: false };

    const username = newUserName(upstream, subject, email);
    // Where people choose their own subject, it may hold what the email could not.
    if (hasUnshowableCharacter(username)) return { kind: 'unnamed' };
    if (looksLikeUserId(username)) return { kind: 'like_an_id', username };
    // The user and the identity are created together or not at all. Two first sign-ins of one
    // person on two replicas: the unique username, then the primary key (issuer, subject) make
    // the second wait for the first and then insert nothing; it then finds the first one's link.
    let created: User | undefined;
    try {
      created = await this.db.transaction(async (tx) => {
        const user = await this.users.create({
          username,
          passwordHash: null,
          scopes,
          email: email ?? null,
          pending: upstream.newUsers === 'pending' && !isAdmin,
          source: 'federated',
        }, tx);
        if (!user) return undefined;
        const identity = await tx.get(`INSERT INTO federated_identities (issuer, subject, user_id, upstream_id, email, created_at, last_login_at)
          VALUES (@issuer, @subject, @userId, @upstreamId, @email, @now, @now) ON CONFLICT (issuer, subject) DO NOTHING RETURNING user_id`, {
          issuer: upstream.issuer, subject, userId: user.id, upstreamId: upstream.id, email: email ?? null, now,
        });
        if (!identity) throw new LinkedElsewhere();
        return user;
      });
    } catch (err) {
      if (!(err instanceof LinkedElsewhere)) throw err;
    }
    if (created) return { kind: 'user', user: created, created: true };
    // The name was taken: by this very identity, linked a moment ago elsewhere, or by someone else.
    const raced = await this.#linkedUser(upstream.issuer, subject);
    if (raced) return { kind: 'user', user: raced, created: false };
    return { kind: 'conflict', username };
  }

  /**
   * Records a use of the identity `findLinked` found for `linked`, as `link` does when it finds
   * one: for a caller that checks the user before it counts the use (the ID-JAG grant), so an
   * attempt it refuses leaves the identity's email and last use as they were.
   */
  async signedInAgain(upstream: SigningInUpstream, linked: User, claims: Pick<IDToken, 'sub'>, assertedEmail: string | undefined): Promise<User> {
    const { email, isAdmin } = asserted(upstream, claims.sub, assertedEmail);
    return this.#signedInAgain(upstream, linked, claims.sub, email, isAdmin, Date.now());
  }

  /**
   * Links (issuer, subject) to an existing local user, as an administrator does after a first
   * sign-in was refused because its name belonged to someone else (`conflict`). One statement, so
   * two admins linking one identity at once link it once. `linkedTo` is the user the identity
   * belongs to afterwards: another user's id when it was theirs already (nothing is changed).
   * `tx`: the administrator's transaction, so the audit record commits with the link.
   */
  async linkExisting(upstream: Pick<LinkingUpstream, 'id' | 'issuer'>, subject: string, userId: string, tx: SqlExecutor = this.db): Promise<{ linkedTo: string; changed: boolean }> {
    const now = Date.now();
    const inserted = await tx.get<{ user_id: string }>(`INSERT INTO federated_identities (issuer, subject, user_id, upstream_id, email, created_at, last_login_at)
      VALUES (@issuer, @subject, @userId, @upstreamId, NULL, @now, @now) ON CONFLICT (issuer, subject) DO NOTHING RETURNING user_id`, {
      issuer: upstream.issuer, subject, userId, upstreamId: upstream.id, now,
    });
    if (inserted) return { linkedTo: userId, changed: true };
    const linked = await tx.get<{ user_id: string }>('SELECT user_id FROM federated_identities WHERE issuer = ? AND subject = ?', [upstream.issuer, subject]);
    // Not there after all (a concurrent change removed it between the two statements): try again.
    if (!linked) return this.linkExisting(upstream, subject, userId, tx);
    return { linkedTo: linked.user_id, changed: false };
  }

  /** The upstream identities linked to a user, oldest first. */
  async identitiesOf(userId: string): Promise<LinkedIdentity[]> {
    const rows = await this.db.all<{ issuer: string; subject: string; upstream_id: string; created_at: number | string; last_login_at: number | string }>(
      'SELECT issuer, subject, upstream_id, created_at, last_login_at FROM federated_identities WHERE user_id = ? ORDER BY created_at, issuer, subject', [userId],
    );
    return rows.map((r) => ({ issuer: r.issuer, subject: r.subject, upstreamId: r.upstream_id, createdAt: Number(r.created_at), lastUsedAt: Number(r.last_login_at) }));
  }

  /** Removes the link of (issuer, subject) to `userId`, in `tx` when given; returns it, or undefined when there was none. */
  async unlink(issuer: string, subject: string, userId: string, tx: SqlExecutor = this.db): Promise<{ upstreamId: string } | undefined> {
    const row = await tx.get<{ upstream_id: string }>('DELETE FROM federated_identities WHERE issuer = ? AND subject = ? AND user_id = ? RETURNING upstream_id', [issuer, subject, userId]);
    return row && { upstreamId: row.upstream_id };
  }

  /**
   * Records the sign-in, and gives a configured admin the admin scopes they lack: the config's
   * `admin_users` decides, as the config file decides for the users it defines, so scopes an
   * administrator removed come back here. That is audited (`user.scopes_changed` by `config`), or
   * the log's last word on the user would be the removal while they acted as an admin again.
   */
  async #signedInAgain(upstream: SigningInUpstream, linked: User, subject: string, email: string | undefined, isAdmin: boolean, now: number): Promise<User> {
    await this.db.run('UPDATE federated_identities SET last_login_at = @now, email = @email WHERE issuer = @issuer AND subject = @subject', {
      now, email: email ?? null, issuer: upstream.issuer, subject,
    });
    const missing = isAdmin && upstream.adminScopes.some((s) => !linked.scopes.includes(s));
    if (!missing) return linked;
    const updated = await this.users.addScopes(linked.id, upstream.adminScopes);
    if (!updated) return linked;
    if (updated.scopes.length !== linked.scopes.length) {
      await this.audit?.record({
        event: 'user.scopes_changed',
        actor: CONFIG_ACTOR,
        details: { user_id: updated.id, username: updated.username, from: linked.scopes, to: updated.scopes, reason: 'admin_users', upstream: upstream.id },
      });
    }
    return updated;
  }
}
