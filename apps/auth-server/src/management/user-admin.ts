/**
 * Changes to user accounts, shared by the admin pages and the CLI; each one is audited.
 *
 * - Disabling a user revokes all their grants (their apps' refresh tokens stop at once) and ends
 *   their browser sessions. Removing a scope revokes the grants that hold it: a refresh would
 *   already leave the scope out (create-provider.ts caps every token at the user's scopes now),
 *   but access tokens issued with it stay valid until they expire unless their grant goes on the
 *   revocation feed, which the resource server follows. Other replicas may still grant the
 *   removed scope for a second (their copy of the user), so the grants holding it are revoked
 *   again once that is over: the change returns after one and a half seconds.
 * - A new password ends the user's browser sessions (other than the one making the change).
 * - Nothing is left half-done that looks done: a change the pages show (disabled, scopes, a new
 *   password, a new name) commits together with its audit record and with what makes it hold
 *   (the user's feed entry, the end of their sessions, the revocation of the grants holding a
 *   removed scope). A failure part-way, or a crash, leaves either the old state, to try again, or
 *   the new one with nothing working that it was meant to stop.
 * - Nobody can lock the administrators out: the last active admin cannot be disabled or lose
 *   `mcp:admin`, and an admin cannot do either to themselves over the web.
 * - Passwords are refused over 72 bytes (bcrypt would ignore the rest) and under 12 characters.
 * Users from the config file can be changed here, but the file's values return at the next start.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { MCP_SCOPES } from '../../../shared/mcp-scopes.ts';
import { ACTOR_NAME_REFUSAL, isActorName, looksLikeUserId, USERNAME } from '../../../shared/username.ts';
import { MAX_PASSWORD_BYTES, PasswordTooLongError } from '../accounts/password-hasher.ts';
import type { ConfiguredUserChanges } from '../accounts/apply-configured-users.ts';
import { USER_FRESH_MS, UserStore, type User, type UserChanges } from '../accounts/user-store.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RevocationFeed } from '../revocation/revocation-feed.ts';
import type { ChangedBy } from './admin-actor.ts';
import { AdminError } from './admin-error.ts';
import { checkShownScopes } from './check-shown-scopes.ts';
import { cutInput } from './cut-input.ts';
import type { GrantRegistry } from './grant-registry.ts';
import type { ModelStore } from '../provider/model-store.ts';
import type { SqlDatabase, SqlExecutor } from '../../../shared/storage/sql-database.ts';

export const ADMIN_SCOPE = 'mcp:admin';
export const MIN_PASSWORD_LENGTH = 12;
/**
 * Longest text a user search takes, in characters: past any username (64) or email address (254,
 * RFC 5321 §4.5.3.1), so it finds nothing longer; SQLite refuses a LIKE pattern over 50,000 bytes.
 */
const MAX_SEARCH_LENGTH = 256;
/**
 * Milliseconds past USER_FRESH_MS before the second revocation of a scope removal: time for a
 * request that read the user just before its copy expired to save its grant.
 */
const OTHER_COPIES_SLACK_MS = 500;

/** The password rule #hash enforces, in words for the forms that ask for a password. */
export const PASSWORD_RULE = `At least ${MIN_PASSWORD_LENGTH} characters and at most ${MAX_PASSWORD_BYTES} bytes (bcrypt ignores the rest).`;

export function isAdmin(user: User | undefined): user is User {
  return UserStore.isActive(user) && user.scopes.includes(ADMIN_SCOPE);
}

/** Checks a list of scopes a user may grant; returns it in canonical order. */
export function parseScopes(scopes: readonly string[]): string[] {
  const unknown = scopes.filter((s) => !(MCP_SCOPES as readonly string[]).includes(s));
  if (unknown.length) throw new AdminError(400, `Unknown scope ${cutInput(unknown.join(', '))}; the scopes are ${MCP_SCOPES.join(', ')}.`, 'scope');
  return MCP_SCOPES.filter((s) => scopes.includes(s));
}

/** `name` without the blanks around it, if it follows the rules every new username follows. */
function followsUsernameRules(name: string): string {
  const username = name.trim();
  if (!USERNAME.test(username)) throw new AdminError(400, 'Usernames are 1 to 64 letters, digits or . _ @ -', 'username');
  if (looksLikeUserId(username)) throw new AdminError(400, 'A username cannot have the form of a user id (8-4-4-4-12 hexadecimal digits).', 'username');
  if (isActorName(username)) throw new AdminError(400, `A${ACTOR_NAME_REFUSAL.slice(1)}.`, 'username');
  return username;
}

function lastAdmin(user: User): AdminError {
  return new AdminError(409, `${user.username} is the last active administrator; make someone else an administrator first.`);
}

/**
 * How a user is named: text an administrator typed, a username or an id; or `{ id }`, an id the
 * server itself holds (the path of the admin pages' own links, a user already looked up).
 */
export type UserName = string | { id: string };

export class UserAdmin {
  constructor(
    /** Where the changes below commit, each with its feed entry and audit record. */
    private readonly db: SqlDatabase,
    private readonly users: UserStore,
    /** bcrypt (PasswordHasher#hash): throws PasswordTooLongError over 72 bytes. */
    private readonly hashPassword: (password: string) => Promise<string>,
    private readonly grants: GrantRegistry,
    private readonly audit: AuditLog,
    private readonly revocations: RevocationFeed,
    /** The provider's stored models: a user's browser sessions are ended there. */
    private readonly models: ModelStore,
  ) {}

  async list(search?: string): Promise<User[]> {
    const text = search?.trim();
    if (!text) return this.users.list();
    const length = [...text].length;
    if (length > MAX_SEARCH_LENGTH) throw new AdminError(400, `Search text is at most ${MAX_SEARCH_LENGTH} characters, not ${length}.`, 'search');
    return this.users.search(text);
  }

  /**
   * By id or, failing that, by username (any case). Text an administrator typed (the CLI, the
   * `?user=` filters) that is one user's id and another user's username (a name in the form of an
   * id, stored before checkNewUsername refused such names) names neither: it is refused, rather
   * than acting on whichever user the id belongs to while the administrator meant the one so named.
   * `{ id }` is taken as the id (the pages link to users by id, and a page shows whose it is); a
   * username only when no user has that id.
   */
  async get(name: UserName): Promise<User> {
    const text = typeof name === 'string' ? name : name.id;
    const byId = await this.users.findById(text);
    const typed = typeof name === 'string';
    const byName = !byId || (typed && looksLikeUserId(text)) ? await this.users.findByUsername(text) : undefined;
    if (byId && byName && byName.id !== byId.id) {
      throw new AdminError(400, `${text} is both the id of the user ${byId.username} and the username of another user (id ${byName.id}): name ${byId.username} by username, or the other user by id.`, 'user');
    }
    const user = byId ?? byName;
    if (!user) throw new AdminError(404, `There is no user ${cutInput(text)}.`);
    return user;
  }

  /** The user after `changes`; a user deleted meanwhile is reported as missing. */
  async #updated(id: string, changes: UserChanges, tx?: SqlExecutor): Promise<User> {
    const user = await this.users.update(id, changes, tx);
    if (!user) throw new AdminError(404, `There is no user ${id}.`);
    return user;
  }

  async #hash(password: string): Promise<string> {
    if ([...password].length < MIN_PASSWORD_LENGTH) throw new AdminError(400, `Passwords need at least ${MIN_PASSWORD_LENGTH} characters.`, 'password');
    try {
      return await this.hashPassword(password);
    } catch (err) {
      if (err instanceof PasswordTooLongError) {
        throw new AdminError(400, `Passwords are limited to ${MAX_PASSWORD_BYTES} bytes (bcrypt ignores the rest); choose a shorter one.`, 'password');
      }
      throw err;
    }
  }

  /**
   * What `create` refuses before it looks at the password: a malformed or taken username. The CLI
   * asks it first, so nobody types a password twice only to hear the name was wrong.
   */
  async checkNewUsername(name: string): Promise<string> {
    const username = followsUsernameRules(name);
    if (await this.users.findByUsername(username)) throw this.#taken(username);
    return username;
  }

  /**
   * Gives a user another username, under the rules new names follow: how a name stored before
   * those rules (one that steers a display, or has the form of a user id) is replaced. A built-in
   * user signs in with the new name from then on; grants, sessions and linked sign-ins belong to
   * the user's id and stay. A user the config file defines is renamed there: the file names its
   * users, and would create the old name again at the next start.
   */
  async rename(name: UserName, newName: string, by: ChangedBy): Promise<{ user: User; from: string; changed: boolean }> {
    const user = await this.get(name);
    const username = followsUsernameRules(newName);
    if (username === user.username) return { user, from: user.username, changed: false };
    // Not about the field: the page shows no rename form for such a user.
    if (user.source === 'config') throw new AdminError(409, `${user.username} comes from the config file; rename it there, then restart.`);
    // The new name and its record commit together: a name committed first stayed, unrecorded,
    // when the record then failed. Refused, the transaction rolls back with nothing written.
    const renamed = await this.db.transaction(async (tx) => {
      const result = await this.users.rename(user.id, username, tx);
      if (result === 'taken') throw this.#taken(username);
      if (!result) throw new AdminError(404, `There is no user ${user.id}.`);
      await this.audit.record({ event: 'user.renamed', actor: by.actor, ip: by.ip, details: { user_id: user.id, from: user.username, to: username } }, tx);
      return result;
    });
    return { user: renamed, from: user.username, changed: true };
  }

  #taken(username: string): AdminError {
    return new AdminError(409, `A user named ${username} already exists.`, 'username');
  }

  async create(input: { username: string; password: string; scopes: readonly string[] }, by: ChangedBy): Promise<User> {
    const username = await this.checkNewUsername(input.username);
    const scopes = parseScopes(input.scopes);
    const passwordHash = await this.#hash(input.password);
    // Checked again by the insert itself: another replica (or the CLI) may have taken the name meanwhile.
    const user = await this.db.transaction(async (tx) => {
      const created = await this.users.create({ username, passwordHash, scopes, source: 'builtin' }, tx);
      if (created) await this.audit.record({ event: 'user.created', actor: by.actor, ip: by.ip, details: { user_id: created.id, username, scopes } }, tx);
      return created;
    });
    if (!user) throw this.#taken(username);
    return user;
  }

  async #refuseLockout(user: User, by: ChangedBy, change: string): Promise<void> {
    if (by.actor.id === user.id) throw new AdminError(409, `You cannot ${change} yourself; ask another administrator.`);
    const otherAdmins = (await this.users.list()).filter((u) => u.id !== user.id && isAdmin(u));
    if (isAdmin(user) && otherAdmins.length === 0) throw lastAdmin(user);
  }

  /**
   * Checked again inside the transaction that takes admin power from `user`, before the change,
   * with every admin's row locked (UserStore.holdingForUpdate): two admins demoting each other at
   * the same moment, on two replicas, both passed `#refuseLockout`; the second to take the lock
   * sees the first's change, and is refused with nothing of it written (its feed entry and audit
   * record roll back with it).
   */
  async #keepAnAdmin(user: User, tx: SqlExecutor): Promise<void> {
    const admins = (await this.users.holdingForUpdate(ADMIN_SCOPE, tx)).filter(isAdmin);
    if (admins.some((admin) => admin.id === user.id) && !admins.some((admin) => admin.id !== user.id)) throw lastAdmin(user);
  }

  /** The user as stored, with `shown` (a page's) checked against their scopes. */
  async #storedScopes(id: string, shown: readonly string[] | undefined, tx?: SqlExecutor): Promise<User> {
    const user = await this.users.findStored(id, tx);
    if (!user) throw new AdminError(404, `There is no user ${id}.`);
    checkShownScopes(user.scopes, shown, user.username);
    return user;
  }

  /** Revokes the user's grants that hold any of `scopes` (in `tx` when given); how many. */
  async #revokeHolding(userId: string, scopes: readonly string[], by: ChangedBy, reason: string, tx?: SqlExecutor): Promise<number> {
    const holding = (await this.grants.list({ accountId: userId }, tx)).filter((g) => g.scopes.some((s) => scopes.includes(s)));
    return this.grants.revokeMany(holding.map((grant) => grant.grantId), by, reason, tx);
  }

  async disable(idOrUsername: UserName, by: ChangedBy): Promise<{ user: User; grantsRevoked: number }> {
    const user = await this.get(idOrUsername);
    let updated = user;
    if (!user.disabled) {
      await this.#refuseLockout(user, by, 'disable');
      // The flag, the user's entry on the revocation feed and the audit record commit together:
      // from then on findAccount refuses the user's code exchanges and refreshes on every replica,
      // and the resource server every access token issued to them. What follows only clears away
      // what can no longer be used, so a failure (or a crash) part-way leaves no token working;
      // `enable` clears whatever is left before the user can use anything again.
      updated = await this.db.transaction(async (tx) => {
        await this.#keepAnAdmin(user, tx);
        // Only while not disabled: the same change sent twice at once (two replicas, a double
        // click) is published and audited once, by the request that made it.
        const disabled = await this.users.update(user.id, { disabled: true }, tx, true);
        if (!disabled) return { ...user, disabled: true };
        await this.revocations.revokeSubject(user.id, tx);
        await this.audit.record({ event: 'user.disabled', actor: by.actor, ip: by.ip, details: { user_id: user.id, username: user.username } }, tx);
        return disabled;
      });
    }
    // Also for a user disabled already: what an attempt that stopped part-way left (the CLI's
    // `users disable` again). Each step finds nothing left to do the second time.
    const grantsRevoked = await this.grants.revokeAll({ accountId: user.id }, by, 'user disabled');
    await this.models.deleteSessions(user.id);
    if (user.disabled) await this.revocations.revokeSubject(user.id);
    return { user: updated, grantsRevoked };
  }

  /**
   * Finishes what the config file changed at this start (apply-configured-users.ts), as the admin
   * pages and the CLI finish the same change: a user the file disables loses their grants, browser
   * sessions and access tokens (the revocation feed), and a user whose password the file changed
   * loses their browser sessions. Before, the file only set the flag: refreshes and sign-ins
   * stopped, but access tokens already issued stayed valid at the resource server until they
   * expired, the grants stayed (alive again if the file later enabled the user), and so did the
   * sessions (after a password change, whoever had signed in with the old one).
   * A user the file disabled at an earlier start is looked at again, and their access tokens put
   * on the feed only when something of theirs was still there (that start stopped half-way).
   */
  async finishConfiguredChanges(changes: ConfiguredUserChanges, by: ChangedBy): Promise<void> {
    for (const { user, now } of changes.disabled) await this.#endAccess(user, by, now);
    for (const user of changes.passwordChanged) {
      const sessionsEnded = await this.models.deleteSessions(user.id);
      await this.audit.record({ event: 'user.password_reset', actor: by.actor, ip: by.ip, details: { user_id: user.id, username: user.username, sessions_ended: sessionsEnded } });
    }
    // What the file undid of an administrator's change is in the log, or its last word on the
    // user (disabled; scope removed) would be wrong from this start on.
    for (const user of changes.enabled) {
      await this.audit.record({ event: 'user.enabled', actor: by.actor, ip: by.ip, details: { user_id: user.id, username: user.username } });
    }
    for (const { user, from, to } of changes.scopesChanged) {
      const removed = from.filter((scope) => !to.includes(scope));
      const grantsRevoked = removed.length > 0 ? await this.#revokeHolding(user.id, MCP_SCOPES.filter((s) => !to.includes(s)), by, `scope ${removed.join(' ')} removed from the user`) : 0;
      await this.audit.record({ event: 'user.scopes_changed', actor: by.actor, ip: by.ip, details: { user_id: user.id, username: user.username, from, to, grants_revoked: grantsRevoked } });
    }
  }

  /**
   * What the config file's disabling of a user ends, once its flag is committed at start: their
   * grants (each with its own feed entry), their browser sessions and (the user's entry) every
   * access token issued to them. Audited when the user was disabled now or something was left to
   * end: a start that stopped part-way is finished by the next, which finds what it left.
   */
  async #endAccess(user: User, by: ChangedBy, disabledNow: boolean): Promise<void> {
    const grantsRevoked = await this.grants.revokeAll({ accountId: user.id }, by, 'user disabled');
    const sessionsEnded = await this.models.deleteSessions(user.id);
    if (!disabledNow && grantsRevoked === 0 && sessionsEnded === 0) return;
    await this.db.transaction(async (tx) => {
      await this.revocations.revokeSubject(user.id, tx);
      await this.audit.record({ event: 'user.disabled', actor: by.actor, ip: by.ip, details: { user_id: user.id, username: user.username, grants_revoked: grantsRevoked } }, tx);
    });
  }

  /**
   * A disabled user holds no grant and no browser session: disabling ends them, and nothing new
   * is made for a disabled user. Any still there were left by a disable that stopped part-way
   * (after its flag and its entry committed), and would work again once the flag is cleared:
   * they are ended first, so a failure here leaves the user disabled, to be enabled again.
   */
  async enable(idOrUsername: UserName, by: ChangedBy): Promise<User> {
    const user = await this.get(idOrUsername);
    if (!user.disabled) return user;
    await this.grants.revokeAll({ accountId: user.id }, by, 'left by an unfinished disable of the user');
    await this.models.deleteSessions(user.id);
    return this.db.transaction(async (tx) => {
      const updated = await this.users.update(user.id, { disabled: false }, tx, false);
      if (!updated) return { ...user, disabled: false }; // enabled meanwhile by another request
      await this.audit.record({ event: 'user.enabled', actor: by.actor, ip: by.ip, details: { user_id: user.id, username: user.username } }, tx);
      return updated;
    });
  }

  async approve(idOrUsername: UserName, by: ChangedBy): Promise<User> {
    const user = await this.get(idOrUsername);
    if (!user.pending) return user;
    return this.db.transaction(async (tx) => {
      const updated = await this.#updated(user.id, { pending: false }, tx);
      await this.audit.record({ event: 'user.approved', actor: by.actor, ip: by.ip, details: { user_id: user.id, username: user.username } }, tx);
      return updated;
    });
  }

  async setPassword(idOrUsername: UserName, password: string, by: ChangedBy): Promise<User> {
    const user = await this.get(idOrUsername);
    const passwordHash = await this.#hash(password);
    // Someone who changes their own password may be evicting whoever else holds it: every other
    // session ends, only the one making the change stays signed in. The new password, the end of
    // those sessions and the audit record commit together: a new password committed alone left
    // whoever it was meant to evict signed in.
    const keep = by.actor.id === user.id ? by.sessionId : undefined;
    return this.db.transaction(async (tx) => {
      const updated = await this.#updated(user.id, { passwordHash }, tx);
      const sessionsEnded = await this.models.deleteSessions(user.id, { exceptSessionId: keep }, tx);
      await this.audit.record({ event: 'user.password_reset', actor: by.actor, ip: by.ip, details: { user_id: user.id, username: user.username, sessions_ended: sessionsEnded } }, tx);
      return updated;
    });
  }

  /**
   * `shown`: the scopes the admin page showed when it was opened (check-shown-scopes.ts); a save
   * from a page that showed other scopes than the user has now is refused (409), nothing changed.
   * The CLI gives none, and sets `requested` whatever the user had.
   */
  async setScopes(idOrUsername: UserName, requested: readonly string[], by: ChangedBy, shown?: readonly string[]): Promise<{ user: User; grantsRevoked: number }> {
    const scopes = parseScopes(requested);
    // Read from the database, not from a copy up to USER_FRESH_MS old: a stale page is refused
    // here before anything is locked, and the lockout check sees what the user has.
    const user = await this.#storedScopes((await this.get(idOrUsername)).id, shown);
    if (user.scopes.includes(ADMIN_SCOPE) && !scopes.includes(ADMIN_SCOPE)) await this.#refuseLockout(user, by, `remove ${ADMIN_SCOPE} from`);
    // Every scope the user will lack, not only those this call removes: an earlier version
    // committed the scopes first, and may have left such grants. A grant never holds a scope its
    // user did not have when granting.
    const lacking = MCP_SCOPES.filter((s) => !scopes.includes(s));
    const { updated, from, grantsRevoked: revokedWithChange, reason } = await this.db.transaction(async (tx) => {
      // The admins' rows are locked before the user's, in the order `disable` takes them, so the
      // two never wait on each other crosswise; of a user who is no admin, it checks nothing.
      if (!scopes.includes(ADMIN_SCOPE)) await this.#keepAnAdmin(user, tx);
      // The change is decided on the row as it is now, locked: another save that committed since
      // the read above (two at the same moment) is what this one changes, and what its audit
      // record starts from; a page that showed the scopes before that save is refused.
      const locked = await this.#storedScopes(user.id, shown, tx);
      const removed = locked.scopes.filter((s) => !scopes.includes(s));
      const reason = `scope ${(removed.length > 0 ? removed : lacking).join(' ')} removed from the user`;
      // The grants holding a scope the user is to lack are revoked (each with its entry, which
      // stops its access tokens) in this transaction, once the checks have passed: a save refused
      // by them revokes nothing (revoked before the locked check, a refused save had cut the
      // user's apps off and still answered that nothing was saved), and a failure (or a crash)
      // leaves the scopes and the grants as they were, to try again. Scopes committed before the
      // revocation stood removed while the grants holding them, and their access tokens, worked.
      const grantsRevoked = await this.#revokeHolding(user.id, lacking, by, reason, tx);
      const changed = await this.#updated(user.id, { scopes }, tx);
      // From the commit the next refresh on any replica is capped by the new scopes (create-provider.ts).
      // The audit record counts the grants revoked with the change; those the second pass below
      // finds are each in the log as grant.revoked, with the same reason.
      await this.audit.record({ event: 'user.scopes_changed', actor: by.actor, ip: by.ip, details: { user_id: user.id, username: user.username, from: locked.scopes, to: scopes, grants_revoked: grantsRevoked } }, tx);
      return { updated: changed, from: locked.scopes, grantsRevoked, reason };
    });
    let grantsRevoked = revokedWithChange;
    if (from.some((s) => !scopes.includes(s))) {
      // Another replica, or the server beside the CLI, may answer from its copy of the user as it
      // was for up to USER_FRESH_MS (user-store.ts) and make a grant with a removed scope meanwhile
      // (a consent or an ID-JAG exchange in flight), after the grants above were listed: its
      // tokens carry the scope, and no entry refuses them. Once no copy can be that old, the
      // grants holding a removed scope are revoked once more.
      await delay(USER_FRESH_MS + OTHER_COPIES_SLACK_MS);
      grantsRevoked += await this.#revokeHolding(user.id, lacking, by, reason);
    }
    return { user: updated, grantsRevoked };
  }
}
