/**
 * Brings the users declared in the config file into the database at boot (the first admin, when
 * there is no user at all, is bootstrap-admin.ts's).
 *
 * Replicas starting together run this at the same moment on one database: a user is created
 * with an insert that does nothing when the name is taken, and the one that lost reads the
 * winner back. So each user exists once.
 */
import type { AuthServerConfig } from '../../../shared/config/load-config.ts';
import type { PasswordHasher } from './password-hasher.ts';
import type { UserStore } from './user-store.ts';

/** Creates or updates each configured user (hash, scopes, disabled) to match the config. */
export async function applyConfiguredUsers(config: AuthServerConfig, users: UserStore, hasher: PasswordHasher): Promise<void> {
  for (const entry of config.users) {
    const existing = await users.findByUsername(entry.username);
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
    if (current) await users.update(current.id, settings);
  }
}
