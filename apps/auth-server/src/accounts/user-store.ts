/**
 * User accounts, on SQLite or PostgreSQL. A user's `id` is the token subject (`sub`) and never
 * changes; `scopes` are the MCP scopes this user may grant, which cap what any token for them carries.
 *
 * - Usernames are unique and compared case-insensitively on both engines, as `lower(username)`
 *   (the `users_username_lower` index). Operators' names are ASCII (shared/username.ts); for a
 *   federated name with other letters, SQLite's lower() folds ASCII only where PostgreSQL's folds
 *   them all, so such names may differ in case on SQLite only.
 * - Replicas share the table, so nothing here reads a row to write it back: `create` is one
 *   INSERT that does nothing when the name is taken (the caller reads back the winner), and
 *   `update` writes only the columns it is given, in one UPDATE … RETURNING. Two admins changing
 *   different things about one user at the same moment on two replicas both keep their change.
 * - Reads go to the database, except `findById`, which may answer from memory for up to
 *   USER_FRESH_MS (below): a change made through this store is seen at once in this process, one
 *   made on another replica (or by the CLI) within that second. Disabling a user also deletes
 *   their grants, which are never cached, so no refresh outlives it; and the user's revocation
 *   entry refuses the tokens minted in that second too, on grants made in it (revocation-feed.ts,
 *   revokeSubject).
 */
import { randomUUID } from 'node:crypto';
import { isUniqueViolation, type SqlDatabase, type SqlExecutor } from '../../../shared/storage/sql-database.ts';

export interface User {
  id: string;
  username: string;
  passwordHash: string | null;
  scopes: string[];
  disabled: boolean;
  /** Waiting for an administrator's approval; cannot get tokens until approved. */
  pending: boolean;
  email: string | null;
  source: 'builtin' | 'config' | 'federated';
  createdAt: number;
  updatedAt: number;
  /**
   * When the user's browser sessions were last ended (epoch seconds, rounded up), or null: a
   * sign-in made before it no longer counts (UserStore.signedInBeforeSessionsEnded).
   */
  sessionsEndedAt: number | null;
  /**
   * Set on the admin the first start created only (bootstrap-admin.ts), whatever it is named now:
   * whether it has signed in since. Null for every other user.
   */
  firstAdmin: FirstAdminState | null;
}

export type FirstAdminState = 'not_signed_in' | 'signed_in';

export type NewUser = {
  username: string;
  passwordHash: string | null;
  scopes: string[];
  disabled?: boolean;
  pending?: boolean;
  email?: string | null;
  source?: User['source'];
  /** The first start's admin (bootstrap-admin.ts): stored as not signed in yet. */
  firstAdmin?: boolean;
};

export type UserChanges = Partial<Pick<User, 'passwordHash' | 'scopes' | 'disabled' | 'pending' | 'email'>>;

interface UserRow {
  id: string;
  username: string;
  password_hash: string | null;
  scopes: string;
  disabled: number;
  pending: number;
  email: string | null;
  source: User['source'];
  created_at: number;
  updated_at: number;
  sessions_ended_at: number | null;
  first_admin: FirstAdminState | null;
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    scopes: row.scopes.split(' ').filter(Boolean),
    disabled: row.disabled === 1,
    pending: row.pending === 1,
    email: row.email,
    source: row.source,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    sessionsEndedAt: row.sessions_ended_at,
    firstAdmin: row.first_admin,
  };
}

/** Each changeable field's column and how it is stored; `update` builds its SET from these only. */
const COLUMNS: { [K in keyof Required<UserChanges>]: { column: string; store: (value: User[K]) => string | number | null } } = {
  passwordHash: { column: 'password_hash', store: (v) => v },
  scopes: { column: 'scopes', store: (v) => v.join(' ') },
  disabled: { column: 'disabled', store: (v) => (v ? 1 : 0) },
  pending: { column: 'pending', store: (v) => (v ? 1 : 0) },
  email: { column: 'email', store: (v) => v },
};

/** `%`, `_` and `\` in a search text match themselves, not any text. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * How long `findById` may answer from memory, in milliseconds. A token request reads its user
 * once (find-user-once.ts), but requests follow each other closely, and on PostgreSQL each read
 * is a round trip. Changes made through this store clear their entry at once, so this process sees
 * them on its next read (a change inside a caller's transaction once it commits, within this
 * bound on PostgreSQL); a change made by another replica or the CLI is seen within this bound.
 * Disabling a user or revoking a grant also deletes the grants themselves, which is never cached.
 */
export const USER_FRESH_MS = 1000;
const MAX_CACHED_USERS = 10_000;

export class UserStore {
  readonly #search: string;
  readonly #recent = new Map<string, { user: User | undefined; at: number }>();
  /** Counts this store's writes: a read that overlapped one is not kept. */
  #writes = 0;

  constructor(private readonly db: SqlDatabase) {
    // SQLite's LIKE already ignores ASCII case; PostgreSQL's does not, ILIKE does.
    const like = db.dialect === 'postgres' ? 'ILIKE' : 'LIKE';
    this.#search = `SELECT * FROM users WHERE username ${like} ? ESCAPE '\\' OR email ${like} ? ESCAPE '\\' ORDER BY lower(username)`;
  }

  /** How pages and the CLI describe an account's state. */
  static status(user: User): 'disabled' | 'pending' | 'active' {
    return user.disabled ? 'disabled' : user.pending ? 'pending' : 'active';
  }

  /**
   * Whether a sign-in made at `loginTs` (epoch seconds; a session's, or a sign-in result's) came
   * before the user's sessions were last ended (model-store.ts `deleteSessions`): such a sign-in
   * no longer counts, wherever it is found.
   */
  static signedInBeforeSessionsEnded(user: User, loginTs: number | undefined): boolean {
    return user.sessionsEndedAt !== null && (loginTs === undefined || loginTs < user.sessionsEndedAt);
  }

  /** Whether the user may sign in and hold tokens (not disabled, not awaiting approval). */
  static isActive(user: User | undefined): user is User {
    return !!user && !user.disabled && !user.pending;
  }

  async findById(id: string): Promise<User | undefined> {
    const now = Date.now();
    const recent = this.#recent.get(id);
    if (recent && now - recent.at < USER_FRESH_MS) return recent.user;
    const writes = this.#writes;
    const row = await this.db.get<UserRow>('SELECT * FROM users WHERE id = ?', [id]);
    const user = row && toUser(row);
    if (writes === this.#writes) {
      if (this.#recent.size >= MAX_CACHED_USERS) this.#recent.clear();
      this.#recent.set(id, { user, at: now });
    }
    return user;
  }

  /**
   * The user as stored now, never from memory. Inside `tx` the row stays locked until it ends
   * (PostgreSQL; SQLite's write transaction already excludes every other writer): a change that
   * depends on what the row holds is decided on what it holds when the change is written.
   */
  async findStored(id: string, tx?: SqlExecutor): Promise<User | undefined> {
    const lock = tx && this.db.dialect === 'postgres' ? ' FOR UPDATE' : '';
    const row = await (tx ?? this.db).get<UserRow>(`SELECT * FROM users WHERE id = ?${lock}`, [id]);
    return row && toUser(row);
  }

  /** Drops what `findById` remembers of the user, for a change made to their row elsewhere. */
  forget(id: string): void {
    this.#writes += 1;
    this.#recent.delete(id);
  }

  /** The username of each of `ids` that exists, in one query per 500 ids (the connection log's page). */
  async usernames(ids: readonly string[]): Promise<Map<string, string>> {
    const unique = [...new Set(ids)];
    const names = new Map<string, string>();
    for (let start = 0; start < unique.length; start += 500) {
      const chunk = unique.slice(start, start + 500);
      const rows = await this.db.all<{ id: string; username: string }>(`SELECT id, username FROM users WHERE id IN (${chunk.map(() => '?').join(', ')})`, chunk);
      for (const row of rows) names.set(row.id, row.username);
    }
    return names;
  }

  /** Any case: `Alice` finds `alice`. */
  async findByUsername(username: string, tx: SqlExecutor = this.db): Promise<User | undefined> {
    const row = await tx.get<UserRow>('SELECT * FROM users WHERE lower(username) = lower(?)', [username]);
    return row && toUser(row);
  }

  /**
   * The admin the first start created, under any name; undefined when there is none, or it was
   * created by an earlier version, which did not mark it (bootstrap-admin.ts then goes by the
   * configured name, when `mayHaveUnmarkedFirstAdmin`).
   */
  async firstAdmin(): Promise<User | undefined> {
    const row = await this.db.get<UserRow>('SELECT * FROM users WHERE first_admin IS NOT NULL ORDER BY created_at, id LIMIT 1');
    return row && toUser(row);
  }

  /**
   * Whether the first admin may be one an earlier version created, which carries no mark: only
   * when the database had users when the mark's migration ran (it left a row in
   * `data_conversions` then), and while no user carries the mark. The migration ran on every
   * database made since while it was empty (the CLI migrates too): there, an admin made before
   * the first start (`users add`, config users) is never taken for the first admin.
   */
  async mayHaveUnmarkedFirstAdmin(): Promise<boolean> {
    return Boolean(await this.db.get(`SELECT 1 AS found FROM data_conversions WHERE name = 'first-admin-mark-added-to-existing-users'
      AND NOT EXISTS (SELECT 1 FROM users WHERE first_admin IS NOT NULL)`));
  }

  /** Records that the first admin `id` has signed in; does nothing for any other user, or after the first time. */
  async markFirstAdminSignedIn(id: string): Promise<void> {
    this.forget(id);
    await this.db.run("UPDATE users SET first_admin = 'signed_in' WHERE id = ? AND first_admin = 'not_signed_in'", [id]);
    // Again once written: a read that overlapped the write is not kept.
    this.forget(id);
  }

  async count(): Promise<number> {
    const row = await this.db.get<{ n: number }>('SELECT count(*) AS n FROM users');
    return Number(row?.n ?? 0);
  }

  async list(): Promise<User[]> {
    return (await this.db.all<UserRow>('SELECT * FROM users ORDER BY lower(username)')).map(toUser);
  }

  /**
   * The users holding `scope` (disabled or not), read inside `tx` with their rows locked until it
   * ends (PostgreSQL; SQLite's write transaction already excludes every other writer). In a fixed
   * order, so two transactions taking them never wait on each other crosswise. What a change that
   * could leave no administrator checks before it is made: two such changes at the same moment,
   * on two replicas, are decided one after the other.
   */
  async holdingForUpdate(scope: string, tx: SqlExecutor): Promise<User[]> {
    const lock = this.db.dialect === 'postgres' ? ' FOR UPDATE' : '';
    const rows = await tx.all<UserRow>(`SELECT * FROM users WHERE scopes LIKE ? ORDER BY id${lock}`, [`%${scope}%`]);
    return rows.map(toUser).filter((user) => user.scopes.includes(scope));
  }

  /** Users whose username or email contains `text` (any case; `%` and `_` are plain characters). */
  async search(text: string): Promise<User[]> {
    const pattern = containsPattern(text);
    return (await this.db.all<UserRow>(this.#search, [pattern, pattern])).map(toUser);
  }

  /**
   * Creates the user, or does nothing and returns undefined when the username is taken (in any
   * case), e.g. by another replica a moment earlier. `tx`: the transaction it is part of.
   */
  async create(input: NewUser, tx: SqlExecutor = this.db): Promise<User | undefined> {
    const now = Date.now();
    // No conflict target: the unique index is on lower(username) on PostgreSQL and a NOCASE
    // column on SQLite; the primary key is a fresh UUID, so the name is the only possible conflict.
    const row = await tx.get<UserRow>(`INSERT INTO users (id, username, password_hash, scopes, disabled, pending, email, source, first_admin, created_at, updated_at)
      VALUES (@id, @username, @passwordHash, @scopes, @disabled, @pending, @email, @source, @firstAdmin, @now, @now)
      ON CONFLICT DO NOTHING RETURNING *`, {
      id: randomUUID(),
      username: input.username,
      passwordHash: input.passwordHash,
      scopes: input.scopes.join(' '),
      disabled: input.disabled ? 1 : 0,
      pending: input.pending ? 1 : 0,
      email: input.email ?? null,
      source: input.source ?? 'builtin',
      firstAdmin: input.firstAdmin ? 'not_signed_in' : null,
      now,
    });
    return row && toUser(row);
  }

  /**
   * Adds `scopes` to what the user may grant, keeping the rest: read and written in one
   * transaction, the row locked on PostgreSQL, so a change made meanwhile on another replica is
   * not overwritten. Undefined when there is no such user.
   */
  async addScopes(id: string, scopes: readonly string[]): Promise<User | undefined> {
    return this.db.transaction(async (tx) => {
      const user = await this.findStored(id, tx);
      if (!user) return undefined;
      if (scopes.every((s) => user.scopes.includes(s))) return user;
      return this.update(id, { scopes: [...new Set([...user.scopes, ...scopes])] }, tx);
    });
  }

  /**
   * Gives the user `username`: the user renamed; undefined when there is no such user; `taken`
   * when another user has the name, in any case. The statement checks; the unique index refuses a
   * name another replica gave a user at the same moment, which comes back as `taken` too (and, on
   * PostgreSQL, leaves `tx` aborted: only a rollback is left to do in it).
   */
  async rename(id: string, username: string, tx: SqlExecutor = this.db): Promise<User | 'taken' | undefined> {
    this.#writes += 1;
    this.#recent.delete(id);
    try {
      const row = await tx.get<UserRow>(`UPDATE users SET username = @username, updated_at = @now
        WHERE id = @id AND NOT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower(@username) AND id <> @id)
        RETURNING *`, { id, username, now: Date.now() });
      if (row) return toUser(row);
      return (await tx.get('SELECT 1 AS found FROM users WHERE id = ?', [id])) ? 'taken' : undefined;
    } catch (err) {
      if (isUniqueViolation(err)) return 'taken';
      throw err;
    } finally {
      this.#writes += 1;
      this.#recent.delete(id);
    }
  }

  /**
   * Replaces a user's password hash with another hash of the same password (written at sign-in
   * at today's cost, password-hasher.ts `needsRehash`), only while the stored one is still
   * `current`: a password changed in the meantime is kept. Not a password change: nothing else
   * changes, no session or grant ends.
   */
  async replacePasswordHash(id: string, current: string, replacement: string): Promise<void> {
    this.#writes += 1;
    this.#recent.delete(id);
    await this.db.run('UPDATE users SET password_hash = @replacement WHERE id = @id AND password_hash = @current', { id, current, replacement });
    this.#writes += 1;
    this.#recent.delete(id);
  }

  /**
   * Writes only the fields in `changes`; undefined when there is no such user, or (`unlessDisabled`
   * given) when its `disabled` flag is that already: a change another request made meanwhile,
   * which it also published and audited.
   */
  async update(id: string, changes: UserChanges, tx: SqlExecutor = this.db, unlessDisabled?: boolean): Promise<User | undefined> {
    const params: Record<string, string | number | null> = { id, now: Date.now() };
    const where = unlessDisabled === undefined ? '' : ' AND disabled <> @unlessDisabled';
    if (unlessDisabled !== undefined) params.unlessDisabled = unlessDisabled ? 1 : 0;
    const sets = ['updated_at = @now'];
    for (const key of Object.keys(COLUMNS) as (keyof UserChanges)[]) {
      if (!(key in changes) || changes[key] === undefined) continue;
      const { column, store } = COLUMNS[key] as { column: string; store: (value: unknown) => string | number | null };
      sets.push(`${column} = @${key}`);
      params[key] = store(changes[key]);
    }
    this.#writes += 1;
    this.#recent.delete(id);
    const row = await tx.get<UserRow>(`UPDATE users SET ${sets.join(', ')} WHERE id = @id${where} RETURNING *`, params);
    // Again once written: a read that overlapped the write is not kept.
    this.#writes += 1;
    this.#recent.delete(id);
    return row && toUser(row);
  }
}
