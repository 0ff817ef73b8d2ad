/**
 * Notes kept per user in the resource-server's database (SQLite, or PostgreSQL shared by every
 * replica).
 *
 * Every statement filters on `owner_sub`, the token subject, so a note id from another user reads
 * exactly like one that does not exist: nothing tells a caller that it belongs to someone else.
 */
import { randomUUID } from 'node:crypto';
import type { SqlDatabase, SqlExecutor } from '../../../shared/storage/sql-database.ts';

export interface NoteSummary {
  id: string;
  title: string;
  created_at: string;
}

export interface Note extends NoteSummary {
  body: string;
}

interface NoteRow {
  id: string;
  title: string;
  body: string;
  created_at: number;
}

/** Each user's notes are capped, so one account cannot grow the database without bound. */
export const MAX_NOTES_PER_USER = 1000;

/**
 * First key of the transaction-scoped advisory lock that serialises one owner's note creations on
 * PostgreSQL (the second key is a hash of the owner): "note" in ASCII.
 */
const NOTE_CAP_LOCK = 0x6e6f7465;

export class NoteLimitReachedError extends Error {
  override name = 'NoteLimitReachedError';
}

export class NoteStore {
  readonly #db: SqlDatabase;

  constructor(db: SqlDatabase) {
    this.#db = db;
  }

  async list(owner: string, limit: number): Promise<NoteSummary[]> {
    const rows = await this.#db.all<Omit<NoteRow, 'body'>>(
      'SELECT id, title, created_at FROM notes WHERE owner_sub = ? ORDER BY created_at DESC, id LIMIT ?',
      [owner, limit],
    );
    return rows.map((row) => ({ id: row.id, title: row.title, created_at: iso(row.created_at) }));
  }

  async get(owner: string, id: string): Promise<Note | undefined> {
    const row = await this.#db.get<NoteRow>('SELECT id, title, body, created_at FROM notes WHERE id = ? AND owner_sub = ?', [id, owner]);
    return row && { id: row.id, title: row.title, body: row.body, created_at: iso(row.created_at) };
  }

  /**
   * Counting and inserting is one transaction, and on PostgreSQL one owner's creations take turns
   * (a READ COMMITTED count would let two replicas both see 999 and both insert); SQLite's
   * `BEGIN IMMEDIATE` already lets one writer in at a time.
   */
  async create(owner: string, title: string, body: string, now = Date.now()): Promise<Note> {
    const id = randomUUID();
    await this.#db.transaction(async (tx) => {
      await lockOwner(tx, owner);
      const row = await tx.get<{ n: number }>('SELECT count(*) AS n FROM notes WHERE owner_sub = ?', [owner]);
      if (Number(row?.n ?? 0) >= MAX_NOTES_PER_USER) {
        throw new NoteLimitReachedError(`you already have ${MAX_NOTES_PER_USER} notes; delete some first`);
      }
      await tx.run('INSERT INTO notes (id, owner_sub, title, body, created_at) VALUES (?, ?, ?, ?, ?)', [id, owner, title, body, now]);
    });
    return { id, title, body, created_at: iso(now) };
  }

  /** True when the caller's note existed and is gone. */
  async delete(owner: string, id: string): Promise<boolean> {
    return (await this.#db.run('DELETE FROM notes WHERE id = ? AND owner_sub = ?', [id, owner])).changes === 1;
  }
}

async function lockOwner(tx: SqlExecutor, owner: string): Promise<void> {
  if (tx.dialect === 'postgres') await tx.get('SELECT pg_advisory_xact_lock(?, hashtext(?))', [NOTE_CAP_LOCK, owner]);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
