/**
 * User accounts in SQLite. A user's `id` is the token subject (`sub`) and never changes;
 * `scopes` are the MCP scopes this user may grant, which cap what any token for them carries.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../../shared/database.ts';

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
}

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
}

function toUser(row: UserRow | undefined): User | undefined {
  if (!row) return undefined;
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
  };
}

export class UserStore {
  readonly #byId;
  readonly #byUsername;
  readonly #insert;
  readonly #update;
  readonly #count;
  readonly #list;
  readonly #search;

  constructor(db: Db) {
    this.#byId = db.prepare('SELECT * FROM users WHERE id = ?');
    this.#byUsername = db.prepare('SELECT * FROM users WHERE username = ?');
    this.#insert = db.prepare(`INSERT INTO users (id, username, password_hash, scopes, disabled, pending, email, source, created_at, updated_at)
      VALUES (@id, @username, @passwordHash, @scopes, @disabled, @pending, @email, @source, @now, @now)`);
    this.#update = db.prepare(`UPDATE users SET password_hash = @passwordHash, scopes = @scopes, disabled = @disabled,
      pending = @pending, email = @email, updated_at = @now WHERE id = @id`);
    this.#count = db.prepare('SELECT count(*) FROM users').pluck();
    this.#list = db.prepare('SELECT * FROM users ORDER BY username');
    this.#search = db.prepare("SELECT * FROM users WHERE username LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\' ORDER BY username");
  }

  findById(id: string): User | undefined {
    return toUser(this.#byId.get(id) as UserRow | undefined);
  }

  /** How pages and the CLI describe an account's state. */
  static status(user: User): 'disabled' | 'pending' | 'active' {
    return user.disabled ? 'disabled' : user.pending ? 'pending' : 'active';
  }

  /** Whether the user may sign in and hold tokens (not disabled, not awaiting approval). */
  static isActive(user: User | undefined): user is User {
    return !!user && !user.disabled && !user.pending;
  }

  findByUsername(username: string): User | undefined {
    return toUser(this.#byUsername.get(username) as UserRow | undefined);
  }

  count(): number {
    return this.#count.get() as number;
  }

  list(): User[] {
    return (this.#list.all() as UserRow[]).map((row) => toUser(row)!);
  }

  /** Users whose username or email contains `text` (any case). */
  search(text: string): User[] {
    const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return (this.#search.all(pattern, pattern) as UserRow[]).map((row) => toUser(row)!);
  }

  create(input: { username: string; passwordHash: string | null; scopes: string[]; disabled?: boolean; pending?: boolean; email?: string | null; source?: User['source'] }): User {
    const id = randomUUID();
    this.#insert.run({
      id,
      username: input.username,
      passwordHash: input.passwordHash,
      scopes: input.scopes.join(' '),
      disabled: input.disabled ? 1 : 0,
      pending: input.pending ? 1 : 0,
      email: input.email ?? null,
      source: input.source ?? 'builtin',
      now: Date.now(),
    });
    return this.findById(id)!;
  }

  update(id: string, changes: Partial<Pick<User, 'passwordHash' | 'scopes' | 'disabled' | 'pending' | 'email'>>): User {
    const user = this.findById(id);
    if (!user) throw new Error(`no user ${id}`);
    const next = { ...user, ...changes };
    this.#update.run({
      id,
      passwordHash: next.passwordHash,
      scopes: next.scopes.join(' '),
      disabled: next.disabled ? 1 : 0,
      pending: next.pending ? 1 : 0,
      email: next.email,
      now: Date.now(),
    });
    return this.findById(id)!;
  }
}
