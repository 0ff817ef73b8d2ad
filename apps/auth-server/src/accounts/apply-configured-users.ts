/**
 * Brings the users declared in the config file into the database at boot, and creates the
 * bootstrap admin when there is no user at all.
 */
import { randomBytes } from 'node:crypto';
import type { AuthServerConfig } from '../../../shared/config/load-config.ts';
import type { PasswordHasher } from './password-hasher.ts';
import type { UserStore } from './user-store.ts';

const ADMIN_SCOPES = ['mcp:read', 'mcp:write', 'mcp:admin'];

/** Creates or updates each configured user (hash, scopes, disabled) to match the config. */
export async function applyConfiguredUsers(config: AuthServerConfig, users: UserStore, hasher: PasswordHasher): Promise<void> {
  for (const entry of config.users) {
    const existing = users.findByUsername(entry.username);
    let passwordHash = entry.passwordHash ?? null;
    if (entry.password !== undefined) {
      // Keep the stored hash when it already matches: hashing again at every boot costs time.
      const unchanged = existing?.passwordHash && (await hasher.verify(entry.password, existing.passwordHash));
      passwordHash = unchanged ? existing.passwordHash : await hasher.hash(entry.password);
    }
    if (existing) {
      users.update(existing.id, { passwordHash, scopes: entry.scopes, disabled: entry.disabled });
    } else {
      users.create({ username: entry.username, passwordHash, scopes: entry.scopes, disabled: entry.disabled, source: 'config' });
    }
  }
}

/**
 * Creates the first admin when no user exists. Returns the generated password (to be shown once)
 * when none was configured; undefined when nothing was created or the password was given.
 */
export async function createBootstrapAdmin(config: AuthServerConfig, users: UserStore, hasher: PasswordHasher): Promise<{ username: string; generatedPassword?: string } | undefined> {
  if (users.count() > 0) return undefined;
  const { username } = config.bootstrapAdmin;
  const generated = config.bootstrapAdmin.password ? undefined : randomBytes(18).toString('base64url');
  const password = config.bootstrapAdmin.password ?? generated!;
  users.create({ username, passwordHash: await hasher.hash(password), scopes: ADMIN_SCOPES, source: 'builtin' });
  return { username, generatedPassword: generated };
}
