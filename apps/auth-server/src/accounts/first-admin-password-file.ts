/**
 * The generated first-admin password, handed over in a file (`<data_dir>/first-admin-password`,
 * mode 0600), not through stdout: a container's stdout goes to `docker logs` and whatever log
 * shipper collects it, where a password would be kept and read by everyone who reads logs.
 * The banner shows the password as well only when stdout is a terminal (announce-ready.ts).
 *
 * - Written before the admin is stored, under a random name of its own, and given the final
 *   name only once the insert won: a write that fails (a read-only data dir, a full disk) fails
 *   the start before any admin exists, so no start makes an admin whose password is nowhere, and
 *   replicas sharing a data dir never remove each other's file.
 * - Removed once the admin signs in (by this process), or at a later start that finds the admin
 *   has signed in (by any replica): a password at rest is kept no longer than it is needed.
 *   `users passwd` of that admin removes it too, since it no longer holds the password.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../../../shared/config/config-error.ts';
import type { User, UserStore } from './user-store.ts';

/** A password written under a temporary name: `keep` gives it the final name, `drop` removes it. */
export interface StagedPassword {
  keep(): void;
  drop(): void;
}

export class FirstAdminPasswordFile {
  readonly path: string;
  /** The configured bootstrap username: it may name a first admin an earlier version created (bootstrap-admin.ts). */
  readonly #username: string;

  constructor(path: string, username: string) {
    this.path = path;
    this.#username = username;
  }

  /**
   * Writes `password` (and a newline) to a file only this user can read, beside the final name.
   * A ConfigError when it cannot: the operator must make the directory writable or choose the password.
   */
  stage(password: string): StagedPassword {
    const staged = `${this.path}.${randomBytes(8).toString('hex')}.tmp`;
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      // `wx`: never written through something already there (a symlink included).
      writeFileSync(staged, `${password}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new ConfigError(`cannot write the first admin's generated password to ${this.path} (${reason}): make DATA_DIR writable by this user, or set BOOTSTRAP_ADMIN_PASSWORD`);
    }
    return {
      keep: () => renameSync(staged, this.path),
      drop: () => rmSync(staged, { force: true }),
    };
  }

  exists(): boolean {
    return existsSync(this.path);
  }

  /** Removes the file if it is there. */
  remove(): void {
    rmSync(this.path, { force: true });
  }

  /**
   * `user` signed in or was given a new password: when that is the first admin, under whatever
   * name, the file is no longer needed (or no longer right) and is removed. True when a file was
   * removed. `users` is read only for an unmarked user with the configured name while the file is there.
   */
  async forgetIfFirstAdmin(user: Pick<User, 'username' | 'source' | 'firstAdmin'>, users: Pick<UserStore, 'mayHaveUnmarkedFirstAdmin'>): Promise<boolean> {
    if (!this.exists()) return false;
    // One an earlier version created carries no mark: the configured name stands for it (bootstrap-admin.ts).
    const firstAdmin = user.firstAdmin !== null
      || (user.source === 'builtin' && user.username === this.#username && await users.mayHaveUnmarkedFirstAdmin());
    if (!firstAdmin) return false;
    this.remove();
    return true;
  }
}
