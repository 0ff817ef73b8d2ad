/**
 * One app's table of connection events: `connection_events` (auth-server) or
 * `mcp_connection_events` (resource server), same columns (migrations/<dialect>/<app>/).
 *
 * - Writes come only from the recorder, in batches (connection-recorder.ts).
 * - Reads are a time window, optionally one client's or one user's, newest first and bounded;
 *   returned oldest first, as timelines read.
 * - `prune` keeps the table bounded by age and by count: both apps' sweepers call it.
 */
import { CONNECTION_STEPS, type ConnectionApp, type ConnectionEvent, type ConnectionStep } from '../connection-events.ts';
import type { SqlDatabase, SqlExecutor, SqlValue } from '../storage/sql-database.ts';

export type ConnectionEventTable = 'connection_events' | 'mcp_connection_events';

export interface ConnectionEventQuery {
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  clientId?: string;
  accountId?: string;
  /** At most this many events: the newest of the window. */
  limit: number;
}

const COLUMNS = ['id', 'at', 'step', 'outcome', 'error', 'reason_code', 'reason', 'client_id', 'account_id', 'flow_id', 'grant_id', 'ip', 'user_agent', 'redirect_uri', 'resource', 'scope'] as const;
/** Rows per INSERT: 16 values each stays far below both engines' limit on bound parameters. */
const ROWS_PER_STATEMENT = 100;

interface EventRow {
  id: string; at: number; step: string; outcome: string; error: string | null; reason_code: string | null; reason: string | null;
  client_id: string | null; account_id: string | null; flow_id: string | null; grant_id: string | null; ip: string | null;
  user_agent: string | null; redirect_uri: string | null; resource: string | null; scope: string | null;
}

const STEPS = new Set<string>(CONNECTION_STEPS);

export class ConnectionEventStore {
  readonly #db: SqlDatabase;
  readonly #table: ConnectionEventTable;
  readonly #app: ConnectionApp;

  constructor(db: SqlDatabase, table: ConnectionEventTable) {
    this.#db = db;
    this.#table = table;
    this.#app = table === 'connection_events' ? 'auth-server' : 'resource-server';
  }

  /** Inserts `events` in order: one statement, or one transaction when they need several. */
  async insertMany(events: ConnectionEvent[]): Promise<void> {
    if (events.length <= ROWS_PER_STATEMENT) {
      await this.#insertChunk(this.#db, events);
      return;
    }
    await this.#db.transaction(async (tx) => {
      for (let start = 0; start < events.length; start += ROWS_PER_STATEMENT) await this.#insertChunk(tx, events.slice(start, start + ROWS_PER_STATEMENT));
    });
  }

  /** The newest `limit` events of the window (and of the client or user, when given), oldest first. */
  async read(query: ConnectionEventQuery): Promise<ConnectionEvent[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    const conditions: Array<[string, SqlValue]> = [
      ['at >= ?', query.since], ['at < ?', query.until], ['client_id = ?', query.clientId], ['account_id = ?', query.accountId],
    ];
    for (const [condition, value] of conditions) {
      if (value === undefined) continue;
      where.push(condition);
      params.push(value);
    }
    const rows = await this.#db.all<EventRow>(
      `SELECT ${COLUMNS.join(', ')} FROM ${this.#table}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, seq DESC LIMIT ?`,
      [...params, query.limit],
    );
    return rows.reverse().flatMap((row) => (STEPS.has(row.step) ? [this.#toEvent(row)] : []));
  }

  /**
   * Deletes events recorded before `olderThan` (epoch ms), then the oldest beyond `maxEvents`;
   * returns how many went.
   */
  async prune({ olderThan, maxEvents }: { olderThan: number; maxEvents: number }): Promise<number> {
    let deleted = (await this.#db.run(`DELETE FROM ${this.#table} WHERE at < ?`, [olderThan])).changes;
    // The seq of the newest event that has to go (read along the primary key), then one range delete.
    const cutoff = await this.#db.get<{ seq: number }>(`SELECT seq FROM ${this.#table} ORDER BY seq DESC LIMIT 1 OFFSET ?`, [maxEvents]);
    if (cutoff) deleted += (await this.#db.run(`DELETE FROM ${this.#table} WHERE seq <= ?`, [cutoff.seq])).changes;
    return deleted;
  }

  async #insertChunk(db: SqlExecutor, events: ConnectionEvent[]): Promise<void> {
    const placeholders = `(${COLUMNS.map(() => '?').join(', ')})`;
    const values: SqlValue[] = [];
    for (const e of events) {
      values.push(e.id, e.at, e.step, e.outcome, e.error, e.reasonCode, e.reason, e.clientId, e.accountId, e.flowId, e.grantId, e.ip, e.userAgent, e.redirectUri, e.resource, e.scope);
    }
    await db.run(`INSERT INTO ${this.#table} (${COLUMNS.join(', ')}) VALUES ${events.map(() => placeholders).join(', ')}`, values);
  }

  #toEvent(row: EventRow): ConnectionEvent {
    const event: ConnectionEvent = { id: row.id, at: Number(row.at), app: this.#app, step: row.step as ConnectionStep, outcome: row.outcome === 'refused' ? 'refused' : 'ok' };
    const optional: Array<[keyof ConnectionEvent, string | null]> = [
      ['error', row.error], ['reasonCode', row.reason_code], ['reason', row.reason], ['clientId', row.client_id], ['accountId', row.account_id],
      ['flowId', row.flow_id], ['grantId', row.grant_id], ['ip', row.ip], ['userAgent', row.user_agent], ['redirectUri', row.redirect_uri],
      ['resource', row.resource], ['scope', row.scope],
    ];
    for (const [key, value] of optional) if (value !== null) (event as unknown as Record<string, unknown>)[key] = value;
    return event;
  }
}
