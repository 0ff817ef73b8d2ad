/**
 * Brings the users declared in the config file into the database at boot, and creates the
 * bootstrap admin when there is no user at all.
 *
 * Replicas starting together run this at the same moment on one database: a user is created
 * with an insert that does nothing when the name is taken, and the one that lost reads the
 * winner back. So each user (and the bootstrap admin) exists once, and only the replica whose
 * insert won shows a generated admin password: the others' passwords were never stored.
 */
import { randomBytes } from 'node:crypto';
import type { AuthServerConfig } from '../../../shared/config/load-config.ts';
import type { PasswordHasher } from './password-hasher.ts';
import type { UserStore } from './user-store.ts';

const ADMIN_SCOPES = ['mcp:read', 'mcp:write', 'mcp:admin'];

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

/**
 * Creates the first admin when no user exists. Returns the generated password (to be shown once)
 * when none was configured; undefined when nothing was created or the password was given.
 */
export async function createBootstrapAdmin(config: AuthServerConfig, users: UserStore, hasher: PasswordHasher): Promise<{ username: string; generatedPassword?: string } | undefined> {
  if ((await users.count()) > 0) return undefined;
  const { username } = config.bootstrapAdmin;
  const generated = config.bootstrapAdmin.password ? undefined : randomBytes(18).toString('base64url');
  const password = config.bootstrapAdmin.password ?? generated!;
  const created = await users.create({ username, passwordHash: await hasher.hash(password), scopes: ADMIN_SCOPES, source: 'builtin' });
  return created ? { username, generatedPassword: generated } : undefined;
}
