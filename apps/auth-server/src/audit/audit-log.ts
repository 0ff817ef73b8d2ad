/**
 * The audit log: what happened, who did it, from which address and with which client.
 *
 * - Callers build `details` from fields known to be safe (names, ids, scopes, reasons). As a
 *   second line of defence, keys that name credentials are dropped and long strings are cut, so
 *   a password, token, code or secret never reaches the table by mistake.
 * - Bounded: `prune` (run by the sweeper) deletes events past the retention and the oldest ones
 *   beyond `maxEvents`.
 * - Actors: a user (name and id), or `system` (the server itself, e.g. refresh reuse detected),
 *   `cli` (the command line), `anonymous` (registration, which needs no sign-in).
 * - Shared by every replica (one table on PostgreSQL). Ids come from the table's identity /
 *   rowid; on PostgreSQL a concurrent writer may commit a lower id after a higher one is visible.
 *   Writes take no lock to prevent that (every token issued is audited, and serialising those
 *   across replicas costs more than it buys): a follower reads recent events again instead
 *   (audit-log-follower.ts); the pages page backwards and see such an event on the next load.
 * - Two ways in. `record` writes at once, in the caller's transaction when given one: admin
 *   changes, whose event must commit with the change. `enqueue` is for events on the request path
 *   (every token issued, sign-ins): they are written off it, all those of one event-loop turn in
 *   one commit (apps/shared/storage/batched-writes.ts), and `close()` flushes them, so a clean stop loses none; a
 *   kill -9 may lose the last turn's (an audit row hands nothing out). Readers that must see an
 *   event just queued call `flush()` first.
 */
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { SqlDatabase, SqlExecutor } from '../../../shared/storage/sql-database.ts';
import { BatchedWrites } from '../../../shared/storage/batched-writes.ts';

/** Every event the log records, in the order the filter offers them. */
export const AUDIT_EVENTS = [
  'sign_in.success',
  'sign_in.failure',
  'token.issued',
  'token.refreshed',
  'token.exchanged',
  'id_jag.accepted',
  'id_jag.refused',
  'refresh_token.reused',
  'authorization_code.replayed',
  'grant.revoked',
  'client.registered',
  'client.registration_refused',
  'client.created',
  'client.deleted',
  'clients.purged',
  'service_account.scopes_changed',
  'service_account.disabled',
  'service_account.enabled',
  'user.created',
  'user.disabled',
  'user.enabled',
  'user.approved',
  'user.password_reset',
  'user.scopes_changed',
  'redirect_uri.allowed',
  'redirect_uri.removed',
  'redirect_scheme.allowed',
  'redirect_scheme.removed',
  'trusted_host.added',
  'trusted_host.removed',
  'trusted_idp.added',
  'trusted_idp.removed',
  'key.rotated',
  'key.retired',
] as const;

export type AuditEventName = (typeof AUDIT_EVENTS)[number];

export interface Actor {
  /** A username, or `system`, `cli`, `anonymous`, `service`. */
  name: string;
  /** The user's id when a user acted. */
  id?: string;
}

export const SYSTEM: Actor = { name: 'system' };
export const ANONYMOUS: Actor = { name: 'anonymous' };
/** A service account acting for itself (client credentials); the entry's client names which. */
export const SERVICE: Actor = { name: 'service' };

export interface AuditEntry {
  event: AuditEventName;
  actor: Actor;
  ip?: string;
  clientId?: string;
  details?: Record<string, unknown>;
}

export interface AuditRecord {
  id: number;
  /** Epoch milliseconds. */
  at: number;
  event: string;
  actor: string;
  actorId: string | null;
  ip: string | null;
  clientId: string | null;
  details: Record<string, unknown>;
}

export interface AuditFilter {
  event?: string;
  /** Exact actor name, any case. */
  actor?: string;
  clientId?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  /** Only events older than this id (paging backwards). */
  beforeId?: number;
  /** Only events newer than this id (following the log). */
  afterId?: number;
  /** Default 100, at most 1000. */
  limit?: number;
}

interface Row {
  id: number;
  at: number;
  event: string;
  actor: string;
  actor_id: string | null;
  ip: string | null;
  client_id: string | null;
  details: string;
}

const CREDENTIAL_KEYS = new Set([
  'access_token', 'refresh_token', 'id_token', 'token', 'code', 'code_verifier', 'authorization',
  'cookie', 'registration_access_token', 'assertion', 'client_assertion',
]);
const CREDENTIAL_PATTERN = /password|secret/i;
const MAX_STRING = 300;
const MAX_ITEMS = 25;

/** Drops credential-named keys and cuts long values (defence in depth; callers pass safe fields). */
function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  if (Array.isArray(value)) return value.slice(0, MAX_ITEMS).map((item) => scrub(item, depth + 1));
  if (value && typeof value === 'object' && depth < 3) {
    return Object.fromEntries(Object.entries(value)
      .filter(([key]) => !CREDENTIAL_KEYS.has(key.toLowerCase()) && !CREDENTIAL_PATTERN.test(key))
      .slice(0, MAX_ITEMS)
      .map(([key, item]) => [key, scrub(item, depth + 1)]));
  }
  if (value && typeof value === 'object') return '[…]';
  return value;
}

/**
 * A `token.issued` with a grant is a code exchange (client credentials have no grant; token
 * exchange and ID-JAG grants record events of their own): it is stored without its
 * `grant_type` (record-provider-events.ts), which every reader gets back here.
 */
function withImpliedDetails(event: string, details: Record<string, unknown>): Record<string, unknown> {
  if (event === 'token.issued' && details.grant_id !== undefined && details.grant_type === undefined) {
    return { grant_type: 'authorization_code', ...details };
  }
  return details;
}

function toRecord(row: Row): AuditRecord {
  return {
    id: row.id,
    at: row.at,
    event: row.event,
    actor: row.actor,
    actorId: row.actor_id,
    ip: row.ip,
    clientId: row.client_id,
    details: withImpliedDetails(row.event, JSON.parse(row.details) as Record<string, unknown>),
  };
}

/** An event as stored, before the table gives it an id. */
type NewRow = Omit<AuditRecord, 'id' | 'details'> & { details: string };

const INSERT = `INSERT INTO audit_events (at, event, actor, actor_id, ip, client_id, details)
  VALUES (@at, @event, @actor, @actorId, @ip, @clientId, @details)`;

/**
 * Many events in one write, committed once. SQLite: the one-row INSERT, repeated in a transaction
 * (per event, about 20 µs of CPU in batches of 4 and 12 µs in batches of 16, against 35 µs for
 * an INSERT committed alone; measured with 20k rows in the table: every commit appends the
 * table's and its four indexes' pages to the WAL). PostgreSQL: one statement for the whole batch,
 * the rows as one JSON array (one round trip instead of one per event), in order, so ids follow it.
 */
const INSERT_MANY_POSTGRES = `INSERT INTO audit_events (at, event, actor, actor_id, ip, client_id, details)
  SELECT (e.value ->> 'at')::bigint, e.value ->> 'event', e.value ->> 'actor', e.value ->> 'actorId', e.value ->> 'ip', e.value ->> 'clientId', e.value ->> 'details'
  FROM jsonb_array_elements(@rows::jsonb) WITH ORDINALITY AS e(value, n) ORDER BY e.n`;

async function insertMany(db: SqlDatabase, rows: NewRow[]): Promise<void> {
  if (db.dialect === 'postgres') {
    await db.run(INSERT_MANY_POSTGRES, { rows: JSON.stringify(rows) });
    return;
  }
  // A lone event commits on its own: a transaction around one INSERT costs more than it saves
  // (65 µs against 42 µs, bench/audit-writes.ts).
  if (rows.length === 1) {
    await db.run(INSERT, rows[0]!);
    return;
  }
  await db.transaction(async (tx) => {
    for (const row of rows) await tx.run(INSERT, row);
  });
}

export interface AuditQueueOptions {
  /** Queued events beyond which `room()` holds request paths back. Default is 1000. */
  maxQueued?: number;
}

export class AuditLog {
  readonly #db: SqlDatabase;
  readonly #queue: BatchedWrites<NewRow>;

  /** `clock` stamps events and ages them out. */
  constructor(
    db: SqlDatabase,
    readonly policy: { retention: number; maxEvents: number },
    private readonly clock: Clock = systemClock,
    options: AuditQueueOptions = {},
  ) {
    this.#db = db;
    this.#queue = new BatchedWrites({
      maxQueued: options.maxQueued,
      writeMany: (rows) => insertMany(db, rows),
    });
  }

  /**
   * Writes one event now; pass the caller's transaction as `tx` so the event commits (or rolls
   * back) with the change it records.
   */
  async record(entry: AuditEntry, tx: SqlExecutor = this.#db): Promise<void> {
    await tx.run(INSERT, this.#toRow(entry));
  }

  /**
   * Stamps the event now and writes it with the others of this event-loop turn; resolves once
   * it is committed, rejects if it could not be written.
   */
  enqueue(entry: AuditEntry): Promise<void> {
    return this.#queue.add(this.#toRow(entry));
  }

  /** Resolves once the queue is below its bound: awaited before answering, it is back-pressure. */
  room(): Promise<void> {
    return this.#queue.room();
  }

  /** Resolves once every event queued so far is written. */
  flush(): Promise<void> {
    return this.#queue.flush();
  }

  #toRow(entry: AuditEntry): NewRow {
    return {
      at: this.clock.now(),
      event: entry.event,
      actor: entry.actor.name.slice(0, 200),
      actorId: entry.actor.id ?? null,
      ip: entry.ip ?? null,
      clientId: entry.clientId?.slice(0, 2000) ?? null,
      details: JSON.stringify(scrub(entry.details ?? {})),
    };
  }

  /** Newest first, unless `afterId` is given (then oldest first, for following the log). */
  async query(filter: AuditFilter = {}): Promise<AuditRecord[]> {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    if (filter.event) { where.push('event = @event'); params.event = filter.event; }
    // Any case, each engine in the form its index serves: PostgreSQL's is on lower(actor),
    // SQLite's on actor COLLATE NOCASE.
    if (filter.actor) {
      where.push(this.#db.dialect === 'postgres' ? 'lower(actor) = lower(@actor)' : 'actor = @actor COLLATE NOCASE');
      params.actor = filter.actor;
    }
    if (filter.clientId) { where.push('client_id = @clientId'); params.clientId = filter.clientId; }
    if (filter.since !== undefined) { where.push('at >= @since'); params.since = filter.since; }
    if (filter.until !== undefined) { where.push('at < @until'); params.until = filter.until; }
    if (filter.beforeId !== undefined) { where.push('id < @beforeId'); params.beforeId = filter.beforeId; }
    if (filter.afterId !== undefined) { where.push('id > @afterId'); params.afterId = filter.afterId; }
    params.limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
    const order = filter.afterId !== undefined ? 'ASC' : 'DESC';
    const sql = `SELECT id, at, event, actor, actor_id, ip, client_id, details FROM audit_events
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id ${order} LIMIT @limit`;
    return (await this.#db.all<Row>(sql, params)).map(toRecord);
  }

  /** Deletes events past the retention and beyond the cap; returns how many went. */
  async prune(now = this.clock.now()): Promise<number> {
    const old = await this.#db.run('DELETE FROM audit_events WHERE at < ?', [now - this.policy.retention * 1000]);
    // The cap counted in ids, not rows: finding the row maxEvents below the newest walked that
    // many rows (765 ms of the event loop each minute on SQLite at the default 1M events), max(id)
    // is one index probe. Ids that were never committed (PostgreSQL identity values of rolled-back
    // inserts) make it keep a few events fewer than the cap, never more.
    const beyond = await this.#db.run(
      'DELETE FROM audit_events WHERE id <= (SELECT max(id) FROM audit_events) - ?',
      [this.policy.maxEvents],
    );
    return old.changes + beyond.changes;
  }
}
