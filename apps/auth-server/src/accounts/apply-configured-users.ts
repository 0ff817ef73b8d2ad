/**
 * Brings the users declared in the config file into the database at boot (the first admin, when
 * there is no user at all, is bootstrap-admin.ts's).
 *
 * Replicas starting together run this at the same moment on one database: a user is created
 * with an insert that does nothing when the name is taken, and the one that lost reads the
 * winner back. So each user exists once.
 *
 * What a change means beyond the row is not done here but reported (`ConfiguredUserChanges`),
 * for the admin services to finish as `gatehouse users disable` and a password reset do
 * (UserAdmin.finishConfiguredChanges): the file's `disabled: true` must end the user's grants,
 * sessions and access tokens, a new password their sessions, and a scope it removes the grants
 * holding it, not only stop new sign-ins; and what it undoes of an administrator's changes (an
 * account enabled again, scopes put back) must be in the audit log.
 *
 * A name already taken by a user of federated sign-in or an ID-JAG (`source: federated`) is a
 * configuration error, not a user to update: that account signs in at an upstream, and whoever
 * holds that upstream identity would have kept it, with the file's scopes and password. A
 * federated name is an email the upstream or IdP asserted, so anyone at an upstream could take a
 * name an operator was about to put in the file, and be given, say, `mcp:admin` at the next start.
 */
import { ConfigError } from '../../../shared/config/config-error.ts';
import type { AuthServerConfig } from '../../../shared/config/load-config.ts';
import type { PasswordHasher } from './password-hasher.ts';
import type { User, UserStore } from './user-store.ts';

export interface ConfiguredUserChanges {
  /**
   * Every user the file disables, with whether this start disabled them: one disabled at an
   * earlier start may still hold grants or sessions, when that start stopped before it ended them.
   */
  disabled: Array<{ user: User; now: boolean }>;
  /** Users present before whose password the file changed. */
  passwordChanged: User[];
  /** Users present before, disabled there, whom the file enables (an administrator's disable undone). */
  enabled: User[];
  /** Users present before whose scopes the file changed, from what to what. */
  scopesChanged: Array<{ user: User; from: string[]; to: string[] }>;
}

/** Creates or updates each configured user (hash, scopes, disabled) to match the config. */
export async function applyConfiguredUsers(config: AuthServerConfig, users: UserStore, hasher: PasswordHasher): Promise<ConfiguredUserChanges> {
  const changes: ConfiguredUserChanges = { disabled: [], passwordChanged: [], enabled: [], scopesChanged: [] };
  for (const [index, entry] of config.users.entries()) {
    const existing = await users.findByUsername(entry.username);
    if (existing?.source === 'federated') throw federatedNameTaken(index, existing);
    let passwordHash = entry.passwordHash ?? null;
    if (entry.password !== undefined) {
      // Keep the stored hash when it already matches: hashing again at every boot costs time.
      const unchanged = existing?.passwordHash && (await hasher.verify(entry.password, existing.passwordHash));
      passwordHash = unchanged ? existing.passwordHash : await hasher.hash(entry.password);
    }
    const settings = { passwordHash, scopes: entry.scopes, disabled: entry.disabled };
    const created = existing ? undefined : await users.create({ username: entry.username, ...settings, source: 'config' });
    if (created) continue;
    // Present already, or created a moment ago by another replica: the file's values win either way.
    const current = existing ?? (await users.findByUsername(entry.username));
    if (!current) continue;
    if (current.source === 'federated') throw federatedNameTaken(index, current);
    const updated = await users.update(current.id, settings);
    if (entry.disabled) changes.disabled.push({ user: updated ?? current, now: !current.disabled });
    if (current.passwordHash !== null && current.passwordHash !== passwordHash) changes.passwordChanged.push(updated ?? current);
    if (current.disabled && !entry.disabled) changes.enabled.push(updated ?? current);
    const sameScopes = current.scopes.length === entry.scopes.length && current.scopes.every((scope) => entry.scopes.includes(scope));
    if (!sameScopes) changes.scopesChanged.push({ user: updated ?? current, from: current.scopes, to: entry.scopes });
  }
  return changes;
}

function federatedNameTaken(index: number, user: User): ConfigError {
  return new ConfigError(`auth_server.builtin.users.${index}.username: ${user.username} is already the name of a user who signs in at an upstream identity provider (federated sign-in or an ID-JAG), whom a config file user would take over with that identity; rename that user first (gatehouse users rename ${user.username} NEW_USERNAME), or choose another name`);
}
