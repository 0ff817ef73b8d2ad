/**
 * Changes to user accounts, shared by the admin pages and the CLI; each one is audited.
 *
 * - Disabling a user revokes all their grants (their apps' refresh tokens stop at once) and ends
 *   their browser sessions. Removing a scope revokes the grants that hold it: a refresh would
 *   already leave the scope out (create-provider.ts caps every token at the user's scopes now),
 *   but access tokens issued with it stay valid until they expire unless their grant goes on the
 *   revocation feed, which the resource server follows.
 * - A new password ends the user's browser sessions (other than the one making the change).
 * - Nobody can lock the administrators out: the last active admin cannot be disabled or lose
 *   `mcp:admin`, and an admin cannot do either to themselves over the web.
 * - Passwords are refused over 72 bytes (bcrypt would ignore the rest) and under 12 characters.
 * Users from the config file can be changed here, but the file's values return at the next start.
 */
import { MCP_SCOPES } from '../../../shared/mcp-scopes.ts';
import type { Db } from '../../../shared/database.ts';
import { USERNAME } from '../../../shared/username.ts';
import { MAX_PASSWORD_BYTES, PasswordTooLongError } from '../accounts/password-hasher.ts';
import { UserStore, type User } from '../accounts/user-store.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RevocationFeed } from '../revocation/revocation-feed.ts';
import type { ChangedBy } from './admin-actor.ts';
import { AdminError } from './admin-error.ts';
import type { GrantRegistry } from './grant-registry.ts';
import type { ModelStore } from '../provider/model-store.ts';

export const ADMIN_SCOPE = 'mcp:admin';
const MIN_PASSWORD_LENGTH = 12;

export function isAdmin(user: User | undefined): user is User {
  return UserStore.isActive(user) && user.scopes.includes(ADMIN_SCOPE);
}

/** Checks a list of scopes a user may grant; returns it in canonical order. */
export function parseScopes(scopes: readonly string[]): string[] {
  const unknown = scopes.filter((s) => !(MCP_SCOPES as readonly string[]).includes(s));
  if (unknown.length) throw new AdminError(400, `Unknown scope ${unknown.join(', ')}; the scopes are ${MCP_SCOPES.join(', ')}.`);
  return MCP_SCOPES.filter((s) => scopes.includes(s));
}

export class UserAdmin {
  constructor(
    private readonly db: Db,
    private readonly users: UserStore,
    /** bcrypt (PasswordHasher#hash): throws PasswordTooLongError over 72 bytes. */
    private readonly hashPassword: (password: string) => Promise<string>,
    private readonly grants: GrantRegistry,
    private readonly audit: AuditLog,
    private readonly revocations: RevocationFeed,
    /** The provider's stored models: a user's browser sessions are ended there. */
    private readonly models: ModelStore,
  ) {}

  list(search?: string): User[] {
    return search?.trim() ? this.users.search(search.trim()) : this.users.list();
  }

  /** By id or, failing that, by username. */
  get(idOrUsername: string): User {
    const user = this.users.findById(idOrUsername) ?? this.users.findByUsername(idOrUsername);
    if (!user) throw new AdminError(404, `There is no user ${idOrUsername}.`);
    return user;
  }

  async #hash(password: string): Promise<string> {
    if ([...password].length < MIN_PASSWORD_LENGTH) throw new AdminError(400, `Passwords need at least ${MIN_PASSWORD_LENGTH} characters.`);
    try {
      return await this.hashPassword(password);
    } catch (err) {
      if (err instanceof PasswordTooLongError) {
        throw new AdminError(400, `Passwords are limited to ${MAX_PASSWORD_BYTES} bytes (bcrypt ignores the rest); choose a shorter one.`);
      }
      throw err;
    }
  }

  async create(input: { username: string; password: string; scopes: readonly string[] }, by: ChangedBy): Promise<User> {
    const username = input.username.trim();
    if (!USERNAME.test(username)) throw new AdminError(400, 'Usernames are 1 to 64 letters, digits or . _ @ -');
    const scopes = parseScopes(input.scopes);
    if (this.users.findByUsername(username)) throw new AdminError(409, `A user named ${username} already exists.`);
    const passwordHash = await this.#hash(input.password);
    const user = this.users.create({ username, passwordHash, scopes, source: 'builtin' });
    this.audit.record({ event: 'user.created', actor: by.actor, ip: by.ip, details: { user_id: user.id, username, scopes } });
    return user;
  }

  #refuseLockout(user: User, by: ChangedBy, change: string): void {
    if (by.actor.id === user.id) throw new AdminError(409, `You cannot ${change} yourself; ask another administrator.`);
    const otherAdmins = this.users.list().filter((u) => u.id !== user.id && isAdmin(u));
    if (isAdmin(user) && otherAdmins.length === 0) {
      throw new AdminError(409, `${user.username} is the last active administrator; make someone else an administrator first.`);
    }
  }

  /** The user is disabled first (no refresh succeeds from then on), then their grants and sessions go. */
  async disable(idOrUsername: string, by: ChangedBy): Promise<{ user: User; grantsRevoked: number }> {
    const user = this.get(idOrUsername);
    if (user.disabled) return { user, grantsRevoked: 0 };
    this.#refuseLockout(user, by, 'disable');
    const updated = this.users.update(user.id, { disabled: true });
    const grantsRevoked = await this.grants.revokeAll({ accountId: user.id }, by, 'user disabled');
    await this.models.deleteSessions(user.id);
    this.revocations.revokeSubject(user.id);
    this.audit.record({ event: 'user.disabled', actor: by.actor, ip: by.ip, details: { user_id: user.id, username: user.username, grants_revoked: grantsRevoked } });
    return { user: updated, grantsRevoked };
  }

  enable(idOrUsername: string, by: ChangedBy): User {
    const user = this.get(idOrUsername);
    if (!user.disabled) return user;
    const updated = this.users.update(user.id, { disabled: false });
    this.audit.record({ event: 'user.enabled', actor: by.actor, ip: by.ip, details: { user_id: user.id, username: user.username } });
    return updated;
  }

  approve(idOrUsername: string, by: ChangedBy): User {
    const user = this.get(idOrUsername);
    if (!user.pending) return user;
    const updated = this.users.update(user.id, { pending: false });
    this.audit.record({ event: 'user.approved', actor: by.actor, ip: by.ip, details: { user_id: user.id, username: user.username } });
    return updated;
  }

  async setPassword(idOrUsername: string, password: string, by: ChangedBy): Promise<User> {
    const user = this.get(idOrUsername);
    const passwordHash = await this.#hash(password);
    const updated = this.users.update(user.id, { passwordHash });
    const sessionsEnded = by.actor.id === user.id ? 0 : await this.models.deleteSessions(user.id);
    this.audit.record({ event: 'user.password_reset', actor: by.actor, ip: by.ip, details: { user_id: user.id, username: user.username, sessions_ended: sessionsEnded } });
    return updated;
  }

  async setScopes(idOrUsername: string, requested: readonly string[], by: ChangedBy): Promise<{ user: User; grantsRevoked: number }> {
    const user = this.get(idOrUsername);
    const scopes = parseScopes(requested);
    const removed = user.scopes.filter((s) => !scopes.includes(s));
    if (removed.includes(ADMIN_SCOPE)) this.#refuseLockout(user, by, `remove ${ADMIN_SCOPE} from`);
    const updated = this.users.update(user.id, { scopes });
    const holding = (await this.grants.list({ accountId: user.id })).filter((g) => g.scopes.some((s) => removed.includes(s)));
    const reason = `scope ${removed.join(' ')} removed from the user`;
    let grantsRevoked = 0;
    for (const grant of holding) if (await this.grants.revoke(grant.grantId, by, reason)) grantsRevoked += 1;
    this.audit.record({ event: 'user.scopes_changed', actor: by.actor, ip: by.ip, details: { user_id: user.id, username: user.username, from: user.scopes, to: scopes, grants_revoked: grantsRevoked } });
    return { user: updated, grantsRevoked };
  }
}
