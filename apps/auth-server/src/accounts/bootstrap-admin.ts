/**
 * The first admin: created when no user exists, and pointed out while it has never signed in.
 *
 * - Stored only once the server can serve: createAuthServer hashes its password ahead
 *   (`prepareBootstrapAdmin`), and the insert (`storeBootstrapAdmin`) runs after `listen`
 *   succeeded. A start that fails before then (port taken, unreadable key) creates nobody, so the
 *   next start creates the admin and shows its generated password. Created earlier, the failed
 *   start made an admin whose password nobody ever saw, and no later start could show it.
 * - Replicas starting together on one database: the insert does nothing when the name is taken,
 *   so the admin exists once, and only the replica whose insert won shows a generated password
 *   (the others' were never stored).
 * - A generated password goes to a file only this user can read (first-admin-password-file.ts),
 *   written before the insert and kept only when the insert won: never to stdout alone, which a
 *   container's log collector keeps.
 * - Stored marked as the first admin (`User.firstAdmin`), and recognised by that mark, so by its
 *   row, whatever `users rename` named it since: the configured name may now be nobody's, or
 *   another user's. A sign-in records on the row that it has signed in.
 * - `unusedBootstrapAdmin`: while that admin has not signed in, each start says how to set a new
 *   password, in case the one shown was lost anyway (file deleted, process killed between storing
 *   and handing it over).
 * - An admin created by an earlier version carries no mark: on a database that had users when
 *   the mark came (`UserStore.mayHaveUnmarkedFirstAdmin`), and while no user carries it, the
 *   configured name stands for it, and its sign-ins are looked up in the audit log by that name
 *   (the log keeps them for `audit.retention`: an admin idle for longer is pointed out again,
 *   harmlessly). On a database that had none, an unmarked admin is never the first admin.
 */
import { randomBytes } from 'node:crypto';
import type { AuthServerConfig } from '../../../shared/config/load-config.ts';
import type { FirstAdminPasswordFile } from './first-admin-password-file.ts';
import type { PasswordHasher } from './password-hasher.ts';
import type { User, UserStore } from './user-store.ts';

const ADMIN_SCOPES = ['mcp:read', 'mcp:write', 'mcp:admin'];

export interface BootstrapAdmin {
  username: string;
  /** Set when no password was configured: never in the log, on the terminal only (announce-ready.ts). */
  generatedPassword?: string;
  /** The file holding the generated password, when one was written. */
  passwordFile?: string;
}

/** The first admin, password already hashed, ready to be stored in one quick insert. */
export interface PreparedAdmin extends BootstrapAdmin {
  passwordHash: string;
}

/**
 * When no user exists: the first admin with its password hashed. Done before listening, so the
 * slow part (bcrypt) is over when the port opens and storing it takes one insert: on SQLite that
 * completes before the server handles its first request.
 */
export async function prepareBootstrapAdmin(config: AuthServerConfig, users: UserStore, hasher: PasswordHasher): Promise<PreparedAdmin | undefined> {
  if ((await users.count()) > 0) return undefined;
  const { username } = config.bootstrapAdmin;
  const generated = config.bootstrapAdmin.password ? undefined : randomBytes(18).toString('base64url');
  const password = config.bootstrapAdmin.password ?? generated!;
  return { username, generatedPassword: generated, passwordHash: await hasher.hash(password) };
}

/**
 * Stores a prepared first admin if still no user exists, its generated password (if any) in
 * `passwordFile`; undefined when nothing was created. A password file that cannot be written
 * throws before anything is stored.
 */
export async function storeBootstrapAdmin(prepared: PreparedAdmin | undefined, users: UserStore, passwordFile?: FirstAdminPasswordFile): Promise<BootstrapAdmin | undefined> {
  if (!prepared || (await users.count()) > 0) return undefined;
  const { username, generatedPassword, passwordHash } = prepared;
  const staged = generatedPassword === undefined ? undefined : passwordFile?.stage(generatedPassword);
  let created: boolean;
  try {
    created = Boolean(await users.create({ username, passwordHash, scopes: ADMIN_SCOPES, source: 'builtin', firstAdmin: true }));
  } catch (err) {
    staged?.drop();
    throw err;
  }
  if (!created) {
    staged?.drop();
    return undefined;
  }
  staged?.keep();
  return { username, generatedPassword, passwordFile: staged && passwordFile!.path };
}

/** Creates the first admin when no user exists; undefined when nothing was created. */
export async function createBootstrapAdmin(config: AuthServerConfig, users: UserStore, hasher: PasswordHasher, passwordFile?: FirstAdminPasswordFile): Promise<BootstrapAdmin | undefined> {
  return storeBootstrapAdmin(await prepareBootstrapAdmin(config, users, hasher), users, passwordFile);
}

/** The audit log's query, as far as it is read here (audit/audit-log.ts; accounts/ imports no other room). */
export interface SignInRecords {
  query(filter: { event: 'sign_in.success'; actor: string; limit: number }): Promise<unknown[]>;
}

const isActiveAdmin = (user: User) => !user.disabled && !user.pending && user.source === 'builtin' && user.scopes.includes('mcp:admin');

/** The first admin's username (as it is now) while it is an active admin that has not signed in; else undefined. */
export async function unusedBootstrapAdmin(config: AuthServerConfig, users: UserStore, audit: SignInRecords): Promise<string | undefined> {
  const marked = await users.firstAdmin();
  if (marked) return marked.firstAdmin === 'not_signed_in' && isActiveAdmin(marked) ? marked.username : undefined;
  if (!(await users.mayHaveUnmarkedFirstAdmin())) return undefined;
  const user = await users.findByUsername(config.bootstrapAdmin.username);
  if (!user || !isActiveAdmin(user)) return undefined;
  const signIns = await audit.query({ event: 'sign_in.success', actor: user.username, limit: 1 });
  return signIns.length === 0 ? user.username : undefined;
}
