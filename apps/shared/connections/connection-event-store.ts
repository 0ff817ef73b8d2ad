/**
 * One app's table of connection events: `connection_events` (auth-server) or
 * `mcp_connection_events` (resource server), same columns (migrations/<dialect>/<app>/).
 *
 * - Writes come only from the recorder, in batches (connection-recorder.ts).
 * - Reads are a time window, optionally one client's or one user's, newest first and bounded;
 *   returned oldest first, as timelines read.
 * - `prune` keeps the table bounded by age and by count: both apps' sweepers call it.
 * - Values that repeat from event to event (client, user, address, user agent, redirect URI,
 *   resource, scope) are stored once, in the app's values table (`connection_values` or
 *   `mcp_connection_values`), and events refer to them by number. The five events of one
 *   authorization repeat most of them: about 560 bytes less per issued-and-refreshed grant on
 *   the auth-server (bench/disk-per-grant.ts), more with a browser's long user agent. A grant's
 *   id is there too: it is in four of the auth-server's five events of one authorization (about
 *   60 bytes less per grant, its value row and index counted). Flow ids (22 characters, in three)
 *   stay in the row: their value row and index would cost what they save.
 * - A step is stored as its number (`STEP_NUMBERS`), not its name: about 40 bytes less per grant.
 * - `client_unknown` is 1 on an event whose client_id no client had (only the auth-server sets
 *   it); a read takes those apart (`clientUnknown`), along a partial index of their own.
 * - An event's id is not stored: it is the app's letter, its time and its row's sequence number
 *   (`a<at>.<seq>` in base 36), unique because the sequence is, and never reused even where
 *   SQLite reuses a sequence number after the table emptied (the time has moved on). It used to
 *   be 22 random characters in each row: about 110 bytes per issued-and-refreshed grant.
 * - A value records when it was last written (`last_at`, the latest `at` of the events that use
 *   it); `prune` deletes the values older than the oldest event left, which no event can use.
 *   Writers set `last_at` in the statement that finds the value's number, in the batch's
 *   transaction: a prune running at the same moment either sees the new `last_at` or waits for
 *   that row (PostgreSQL re-checks a row it waited for), so no event is left pointing at nothing.
 */
import { type ConnectionApp, type ConnectionEvent, type ConnectionStep, type UnnumberedConnectionEvent } from '../connection-events.ts';
import type { SqlDatabase, SqlExecutor, SqlValue } from '../storage/sql-database.ts';

export type ConnectionEventTable = 'connection_events' | 'mcp_connection_events';

export interface ConnectionEventQuery {
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  clientId?: string;
  accountId?: string;
  /**
   * true: only events naming a client or a user, but not those of a client_id no client had
   * (`clientUnknown`); false: only events naming neither (metadata fetches, challenges, refusals
   * of requests that named no client). Read apart, so a flood of anonymous requests cannot push
   * the attempts of real clients out of a read's `limit`.
   */
  identified?: boolean;
  /** true: only the events of a client_id no client had (`clientUnknown`), read apart for the same reason. */
  clientUnknown?: true;
  /** At most this many events: the newest of the window. */
  limit: number;
}

/** The fields stored in the values table: event key, the events table's reference column, the name read back. */
const SHARED = [
  ['clientId', 'client_ref', 'client_id'], ['accountId', 'account_ref', 'account_id'], ['ip', 'ip_ref', 'ip'],
  ['userAgent', 'user_agent_ref', 'user_agent'], ['redirectUri', 'redirect_uri_ref', 'redirect_uri'],
  ['resource', 'resource_ref', 'resource'], ['scope', 'scope_ref', 'scope'], ['grantId', 'grant_ref', 'grant_id'],
] as const satisfies ReadonlyArray<readonly [keyof ConnectionEvent, string, string]>;
/** The events table's columns as inserted. */
const STORED = ['at', 'step_number', 'outcome', 'error', 'reason_code', 'reason', 'flow_id', 'client_unknown', ...SHARED.map(([, column]) => column)];
/**
 * Each step's number as stored. Never renumber or reuse one: stored events keep theirs (the
 * migrations that brought the numbers in name each step's). A new step takes the next number.
 */
export const STEP_NUMBERS = {
  mcp_challenge: 1, resource_metadata: 2, server_metadata: 3, registration: 4, client_document: 5, authorization: 6,
  sign_in: 7, consent: 8, redirect: 9, code_exchange: 10, mcp_request: 11, refresh: 12, step_up: 13,
} as const satisfies Record<ConnectionStep, number>;
const STEP_OF_NUMBER = new Map<number, ConnectionStep>(Object.entries(STEP_NUMBERS).map(([step, number]) => [number, step as ConnectionStep]));

interface EventRow {
  seq: number; at: number; step_number: number | null; outcome: string; error: string | null; reason_code: string | null; reason: string | null;
  client_unknown: number | null;
  client_id: string | null; account_id: string | null; flow_id: string | null; grant_id: string | null; ip: string | null;
  user_agent: string | null; redirect_uri: string | null; resource: string | null; scope: string | null;
}
/** Rows per INSERT: 16 values each stays far below both engines' limit on bound parameters. */
const ROWS_PER_STATEMENT = 100;
/** Distinct values per statement that finds their numbers (two parameters each). */
const VALUES_PER_STATEMENT = 500;

export class ConnectionEventStore {
  readonly #db: SqlDatabase;
  readonly #table: ConnectionEventTable;
  readonly #values: string;
  readonly #app: ConnectionApp;
  /** Numbers the values and stamps them with their latest use, returning each number. */
  readonly #upsertValues: string;
  /** The events, each shared field read back from the values table, under its column name. */
  readonly #select: string;

  constructor(db: SqlDatabase, table: ConnectionEventTable) {
    this.#db = db;
    this.#table = table;
    this.#values = table === 'connection_events' ? 'connection_values' : 'mcp_connection_values';
    this.#app = table === 'connection_events' ? 'auth-server' : 'resource-server';
    const latest = db.dialect === 'postgres' ? 'greatest' : 'max';
    this.#upsertValues = `INSERT INTO ${this.#values} AS v (value, last_at) VALUES %ROWS%
      ON CONFLICT (value) DO UPDATE SET last_at = ${latest}(v.last_at, excluded.last_at) RETURNING id, value`;
    const shared = SHARED.map(([, , name], i) => `v${i}.value AS ${name}`);
    const joins = SHARED.map(([, column], i) => `LEFT JOIN ${this.#values} v${i} ON v${i}.id = e.${column}`);
    this.#select = `SELECT e.seq, e.at, e.step_number, e.outcome, e.error, e.reason_code, e.reason, e.flow_id, e.client_unknown, ${shared.join(', ')}
      FROM ${this.#table} e ${joins.join(' ')}`;
  }

  /** Inserts `events` in order, in one transaction with the values they use. */
  async insertMany(events: UnnumberedConnectionEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.#db.transaction(async (tx) => {
      const numbers = await this.#numberValues(tx, events);
      for (let start = 0; start < events.length; start += ROWS_PER_STATEMENT) await this.#insertChunk(tx, events.slice(start, start + ROWS_PER_STATEMENT), numbers);
    });
  }

  /** The newest `limit` events of the window (and of the client or user, or identified or not, when given), oldest first. */
  async read(query: ConnectionEventQuery): Promise<ConnectionEvent[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    const conditions: Array<[string, SqlValue]> = [
      ['e.at >= ?', query.since], ['e.at < ?', query.until],
      [`e.client_ref = (SELECT id FROM ${this.#values} WHERE value = ?)`, query.clientId],
      [`e.account_ref = (SELECT id FROM ${this.#values} WHERE value = ?)`, query.accountId],
    ];
    for (const [condition, value] of conditions) {
      if (value === undefined) continue;
      where.push(condition);
      params.push(value);
    }
    if (query.identified !== undefined) {
      where.push(query.identified
        ? '(e.client_ref IS NOT NULL OR e.account_ref IS NOT NULL) AND e.client_unknown IS NULL'
        : '(e.client_ref IS NULL AND e.account_ref IS NULL)');
    }
    if (query.clientUnknown) where.push('e.client_unknown = 1');
    const rows = await this.#db.all<EventRow>(
      `${this.#select}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY e.at DESC, e.seq DESC LIMIT ?`,
      [...params, query.limit],
    );
    return rows.reverse().flatMap((row) => {
      const step = row.step_number === null ? undefined : STEP_OF_NUMBER.get(Number(row.step_number));
      return step ? [this.#toEvent(row, step)] : [];
    });
  }

  /**
   * Deletes events recorded before `olderThan` (epoch ms), then the oldest beyond `maxEvents`,
   * then the values no event left can use; returns how many events went.
   */
  async prune({ olderThan, maxEvents }: { olderThan: number; maxEvents: number }): Promise<number> {
    let deleted = (await this.#db.run(`DELETE FROM ${this.#table} WHERE at < ?`, [olderThan])).changes;
    // The seq of the newest event that has to go (read along the primary key), then one range delete.
    const cutoff = await this.#db.get<{ seq: number }>(`SELECT seq FROM ${this.#table} ORDER BY seq DESC LIMIT 1 OFFSET ?`, [maxEvents]);
    if (cutoff) deleted += (await this.#db.run(`DELETE FROM ${this.#table} WHERE seq <= ?`, [cutoff.seq])).changes;
    // Every event that used a value is at most as old as the value's last_at: a value last
    // written before the oldest event left is used by none (min(at) is one probe of the at index).
    // (With no event left, nothing is deleted: the next prune after new events takes them.)
    await this.#db.run(`DELETE FROM ${this.#values} WHERE last_at < (SELECT min(at) FROM ${this.#table})`);
    return deleted;
  }

  /** The number of every shared value the events use, stamped with its latest use. */
  async #numberValues(tx: SqlExecutor, events: UnnumberedConnectionEvent[]): Promise<Map<string, number>> {
    const latest = new Map<string, number>();
    for (const event of events) {
      for (const [field] of SHARED) {
        const value = event[field];
        if (value !== undefined) latest.set(value, Math.max(latest.get(value) ?? 0, event.at));
      }
    }
    const numbers = new Map<string, number>();
    // In one fixed order (the values' own): each statement locks the rows it inserts or stamps
    // until the batch commits, so two replicas whose batches name the same values lock them in the
    // same order, and one waits for the other instead of each holding what the other needs (a
    // deadlock, which PostgreSQL breaks after a second by failing one batch).
    const entries = [...latest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (let start = 0; start < entries.length; start += VALUES_PER_STATEMENT) {
      const chunk = entries.slice(start, start + VALUES_PER_STATEMENT);
      const rows = await tx.all<{ id: number; value: string }>(this.#upsertValues.replace('%ROWS%', chunk.map(() => '(?, ?)').join(', ')), chunk.flat());
      for (const row of rows) numbers.set(row.value, Number(row.id));
    }
    return numbers;
  }

  async #insertChunk(db: SqlExecutor, events: UnnumberedConnectionEvent[], numbers: Map<string, number>): Promise<void> {
    const placeholders = `(${STORED.map(() => '?').join(', ')})`;
    const values: SqlValue[] = [];
    const number = (value: string | undefined) => (value === undefined ? null : numbers.get(value) ?? null);
    for (const e of events) {
      values.push(e.at, STEP_NUMBERS[e.step], e.outcome, e.error, e.reasonCode, e.reason, e.flowId, e.clientUnknown ? 1 : null);
      for (const [field] of SHARED) values.push(number(e[field]));
    }
    await db.run(`INSERT INTO ${this.#table} (${STORED.join(', ')}) VALUES ${events.map(() => placeholders).join(', ')}`, values);
  }

  #toEvent(row: EventRow, step: ConnectionStep): ConnectionEvent {
    const at = Number(row.at);
    const event: ConnectionEvent = { id: `${this.#app === 'auth-server' ? 'a' : 'r'}${at.toString(36)}.${Number(row.seq).toString(36)}`, at, app: this.#app, step, outcome: row.outcome === 'refused' ? 'refused' : 'ok' };
    const optional: Array<[keyof ConnectionEvent, string | null]> = [
      ['error', row.error], ['reasonCode', row.reason_code], ['reason', row.reason], ['clientId', row.client_id], ['accountId', row.account_id],
      ['flowId', row.flow_id], ['grantId', row.grant_id], ['ip', row.ip], ['userAgent', row.user_agent], ['redirectUri', row.redirect_uri],
      ['resource', row.resource], ['scope', row.scope],
    ];
    for (const [key, value] of optional) if (value !== null) (event as unknown as Record<string, unknown>)[key] = value;
    if (row.client_unknown !== null && Number(row.client_unknown) === 1 && event.clientId !== undefined) event.clientUnknown = true;
    return event;
  }
}
