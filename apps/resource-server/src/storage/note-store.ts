/**
 * Notes kept per user in the resource-server's own database.
 *
 * Every statement filters on `owner_sub`, the token subject, so a note id from another user reads
 * exactly like one that does not exist: nothing tells a caller that it belongs to someone else.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../../shared/database.ts';

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

export class NoteLimitReachedError extends Error {
  override name = 'NoteLimitReachedError';
}

export class NoteStore {
  readonly #list;
  readonly #get;
  readonly #count;
  readonly #insert;
  readonly #delete;

  constructor(db: Db) {
    this.#list = db.prepare<[string, number], Omit<NoteRow, 'body'>>(
      'SELECT id, title, created_at FROM notes WHERE owner_sub = ? ORDER BY created_at DESC, id LIMIT ?',
    );
    this.#get = db.prepare<[string, string], NoteRow>(
      'SELECT id, title, body, created_at FROM notes WHERE id = ? AND owner_sub = ?',
    );
    this.#count = db.prepare<[string], number>('SELECT count(*) FROM notes WHERE owner_sub = ?').pluck();
    this.#insert = db.prepare<[string, string, string, string, number]>(
      'INSERT INTO notes (id, owner_sub, title, body, created_at) VALUES (?, ?, ?, ?, ?)',
    );
    this.#delete = db.prepare<[string, string]>('DELETE FROM notes WHERE id = ? AND owner_sub = ?');
  }

  list(owner: string, limit: number): NoteSummary[] {
    return this.#list.all(owner, limit).map((row) => ({ id: row.id, title: row.title, created_at: iso(row.created_at) }));
  }

  get(owner: string, id: string): Note | undefined {
    const row = this.#get.get(id, owner);
    return row && { id: row.id, title: row.title, body: row.body, created_at: iso(row.created_at) };
  }

  create(owner: string, title: string, body: string, now = Date.now()): Note {
    if ((this.#count.get(owner) ?? 0) >= MAX_NOTES_PER_USER) {
      throw new NoteLimitReachedError(`you already have ${MAX_NOTES_PER_USER} notes; delete some first`);
    }
    const id = randomUUID();
    this.#insert.run(id, owner, title, body, now);
    return { id, title, body, created_at: iso(now) };
  }

  /** True when the caller's note existed and is gone. */
  delete(owner: string, id: string): boolean {
    return this.#delete.run(id, owner).changes === 1;
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
