/**
 * The MCP sessions' records: which subject a session belongs to, what the client sent in its
 * `initialize` (so any replica can rebuild the session's MCP server), and when it was last used.
 * The database is the one authority on whether a session exists: a replica's in-memory session
 * is only a cache of what a row here says, checked on every request (`touch`).
 *
 * - Opening is one transaction that also closes the sessions beyond the limits (the subject's own
 *   oldest first, then the least recently used of all). On PostgreSQL it takes a transaction
 *   advisory lock, so two replicas opening sessions at the same instant cannot both stay under a
 *   limit they together exceed; SQLite's `BEGIN IMMEDIATE` already admits one writer at a time.
 * - `touch` reads the row on every request, so a session that another replica ended, evicted or
 *   let idle out is not returned, and records the use at most once a second.
 * - Unless this store is the table's only writer (`soleWriter`: SQLite, whose file one process
 *   owns). Then every change to the table is one this store makes, so it keeps the rows it wrote
 *   or read in memory and `touch` reads none: it drops a row from memory when its own statement
 *   deletes it (end, the idle sweep, the limits), so the memory is as exact as the table, for no
 *   time at all. Measured: the read was about a tenth of the resource server's CPU per
 *   `tools/call` (bench/mcp-whoami.ts). On PostgreSQL replicas share the table, and a DELETE on one
 *   must answer 404 on the others at once: there every `touch` reads.
 */
import type { InitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { SqlDatabase, SqlExecutor } from '../../../shared/storage/sql-database.ts';

export type InitializeParams = InitializeRequest['params'];

export interface McpSessionRecord {
  id: string;
  subject: string;
  /** The protocol version negotiated at initialize. */
  protocolVersion: string;
  initializeParams: InitializeParams;
  /** Epoch milliseconds. */
  createdAt: number;
  lastUsedAt: number;
}

export interface SessionLimits {
  maxSessions: number;
  maxSessionsPerSubject: number;
}

interface SessionRow {
  id: string;
  subject: string;
  protocol_version: string;
  initialize_params: string;
  created_at: number;
  last_used_at: number;
}

/** Transaction advisory lock key taken while a session opens, on PostgreSQL: "mcp-sess" in ASCII. */
const OPEN_LOCK = '7882267113340367731';

/** Milliseconds: a session's last use is recorded at most this often. */
export const TOUCH_INTERVAL_MS = 1000;

const RETURNED = 'id, subject, protocol_version, initialize_params, created_at, last_used_at';

export interface McpSessionStoreOptions {
  /**
   * Whether this store makes every change to the table (no replica, no other store on it), so it
   * may answer `touch` from the rows it holds. Holds at most one record per existing row, so as
   * many as the session limits allow. Default is false: every `touch` reads the database.
   */
  soleWriter?: boolean;
}

export class McpSessionStore {
  readonly #db: SqlDatabase;
  /** The rows as this store last wrote or read them, by id; only for a sole writer. */
  readonly #rows: Map<string, McpSessionRecord> | undefined;
  /**
   * Counts the statements that deleted rows. A row read from the database is kept only if no
   * deletion finished while it was being read: the deletion may have removed it after the read.
   */
  #deletions = 0;

  constructor(db: SqlDatabase, { soleWriter = false }: McpSessionStoreOptions = {}) {
    this.#db = db;
    this.#rows = soleWriter ? new Map() : undefined;
  }

  /**
   * Records a new session (used now) and ends the oldest ones beyond `limits`; returns the ids
   * ended, so their in-memory state here can go too.
   */
  async open(session: Omit<McpSessionRecord, 'createdAt' | 'lastUsedAt'>, limits: SessionLimits, now: number): Promise<string[]> {
    const ended = await this.#db.transaction(async (tx) => {
      if (tx.dialect === 'postgres') await tx.get('SELECT pg_advisory_xact_lock(?)', [OPEN_LOCK]);
      await tx.run(
        'INSERT INTO mcp_sessions (id, subject, protocol_version, initialize_params, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)',
        [session.id, session.subject, session.protocolVersion, JSON.stringify(session.initializeParams), now, now],
      );
      const own = await endOldest(tx, limits.maxSessionsPerSubject, 'WHERE subject = ?', [session.subject]);
      const all = await endOldest(tx, limits.maxSessions, '', []);
      return [...own, ...all];
    });
    this.#rows?.set(session.id, { ...session, createdAt: now, lastUsedAt: now });
    if (ended.length > 0) this.#deleted(ended);
    return ended;
  }

  /**
   * The session `id` of `subject`, marked used at `now`, unless it was last used at or before
   * `idleSince` (then it has timed out); undefined when it does not exist, belongs to someone else
   * or has timed out.
   *
   * Checked on every request, but written at most once per TOUCH_INTERVAL_MS per session: a busy
   * session costs one indexed read per request (none for a sole writer holding its row), not a row
   * version (and, on PostgreSQL, index entries to vacuum) per request. The idle timeout is
   * therefore exact to within that interval. A session ended between the read and the write is
   * still served this once (as a request that came a moment earlier would have been).
   */
  async touch(id: string, subject: string, idleSince: number, now: number): Promise<McpSessionRecord | undefined> {
    const record = this.#rows?.get(id) ?? await this.#read(id, subject, idleSince);
    if (!record || record.subject !== subject || record.lastUsedAt <= idleSince) return undefined;
    if (now - record.lastUsedAt >= TOUCH_INTERVAL_MS) {
      await this.#markUsed(id, now);
      record.lastUsedAt = now;
    }
    return record;
  }

  /**
   * `touch` for a session the caller already holds, which needs no record: whether it is still
   * open (as `touch` finds it), marked used. Where every request reads the database
   * (PostgreSQL), it reads only `last_used_at`, not the client's stored initialize.
   */
  async stillOpen(id: string, subject: string, idleSince: number, now: number): Promise<boolean> {
    if (this.#rows) return (await this.touch(id, subject, idleSince, now)) !== undefined;
    const row = await this.#db.get<{ last_used_at: number }>(
      'SELECT last_used_at FROM mcp_sessions WHERE id = ? AND subject = ? AND last_used_at > ?',
      [id, subject, idleSince],
    );
    if (!row) return false;
    if (now - row.last_used_at >= TOUCH_INTERVAL_MS) await this.#markUsed(id, now);
    return true;
  }

  async #markUsed(id: string, now: number): Promise<void> {
    await this.#db.run('UPDATE mcp_sessions SET last_used_at = ? WHERE id = ? AND last_used_at < ?', [now, id, now]);
  }

  /** The row from the database, kept in memory for a sole writer. */
  async #read(id: string, subject: string, idleSince: number): Promise<McpSessionRecord | undefined> {
    const deletions = this.#deletions;
    const row = await this.#db.get<SessionRow>(
      `SELECT ${RETURNED} FROM mcp_sessions WHERE id = ? AND subject = ? AND last_used_at > ?`,
      [id, subject, idleSince],
    );
    if (!row) return undefined;
    const record = recordOf(row);
    if (deletions === this.#deletions) this.#rows?.set(id, record);
    return record;
  }

  /** Ends the session; true when it existed. */
  async end(id: string): Promise<boolean> {
    const { changes } = await this.#db.run('DELETE FROM mcp_sessions WHERE id = ?', [id]);
    this.#deleted([id]);
    return changes === 1;
  }

  /** Ends every session last used at or before `idleSince`; returns how many went. */
  async endIdle(idleSince: number): Promise<number> {
    const ended = await this.#db.all<{ id: string }>('DELETE FROM mcp_sessions WHERE last_used_at <= ? RETURNING id', [idleSince]);
    this.#deleted(ended.map((row) => row.id));
    return ended.length;
  }

  /** Forgets rows a statement of this store has just deleted. */
  #deleted(ids: readonly string[]): void {
    this.#deletions += 1;
    for (const id of ids) this.#rows?.delete(id);
  }
}

/** Deletes the least recently used sessions matching `where` beyond `limit`; returns their ids. */
async function endOldest(tx: SqlExecutor, limit: number, where: string, params: string[]): Promise<string[]> {
  const count = Number((await tx.get<{ n: number }>(`SELECT count(*) AS n FROM mcp_sessions ${where}`, params))?.n ?? 0);
  if (count <= limit) return [];
  const ended = await tx.all<{ id: string }>(
    `DELETE FROM mcp_sessions WHERE seq IN (SELECT seq FROM mcp_sessions ${where} ORDER BY last_used_at, seq LIMIT ?) RETURNING id`,
    [...params, count - limit],
  );
  return ended.map((row) => row.id);
}

function recordOf(row: SessionRow): McpSessionRecord {
  return {
    id: row.id,
    subject: row.subject,
    protocolVersion: row.protocol_version,
    initializeParams: JSON.parse(row.initialize_params) as InitializeParams,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}
