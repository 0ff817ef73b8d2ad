/**
 * The audit log: what happened, who did it, from which address and with which client.
 *
 * - Callers build `details` from fields known to be safe (names, ids, scopes, reasons). As a
 *   second line of defence, keys that name credentials are dropped and long strings are cut, so
 *   a password, token, code or secret never reaches the table by mistake (stored-details-of.ts).
 * - Every string is stored well formed (a lone surrogate, which a JSON body can carry into a
 *   client's name or redirect URI, becomes U+FFFD, and so does U+0000) and cut between
 *   characters: PostgreSQL's jsonb refuses both, and the whole insert with them, so a client
 *   registered with such a name left no event.
 * - Bounded: `prune` (run by the sweeper) deletes events past the retention and the oldest ones
 *   beyond `maxEvents`.
 * - Actors: a user (name and id), or `system` (the server itself, e.g. refresh reuse detected),
 *   `cli` (the command line), `config` (the config file, applied at start), `anonymous`
 *   (registration, which needs no sign-in).
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
import type { SqlDatabase, SqlExecutor, SqlValue } from '../../../shared/storage/sql-database.ts';
import { BatchedWrites } from '../../../shared/storage/batched-writes.ts';
import { cutText } from '../../../shared/cut-text.ts';
import { AuditStore, SELECT_EVENTS, VALUE_NUMBER, type StoredEvent, type StoredRow } from './audit-store.ts';
import { storable, storedDetailsOf } from './stored-details-of.ts';
import { joinDetails } from './stored-details.ts';

/** Every event the log records, in the order the filter offers them. */
export const AUDIT_EVENTS = [
  'sign_in.success',
  'sign_in.failure',
  'token.issued',
  'token.refreshed',
  'token.exchanged',
  'token.exchange_refused',
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
  'user.linked',
  'user.unlinked',
  'user.password_reset',
  'user.scopes_changed',
  'user.renamed',
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
  /** A username, or `system`, `cli`, `config`, `anonymous`, `service`. */
  name: string;
  /** The user's id when a user acted. */
  id?: string;
}

/** The config file, as what it says of users is applied (at a start, or at a sign-in for `admin_users`). */
export const CONFIG_ACTOR: Actor = { name: 'config' };

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

function toRecord(row: StoredRow): AuditRecord {
  return {
    id: Number(row.id),
    at: Number(row.at),
    event: row.event ?? '',
    actor: row.actor ?? '',
    actorId: row.actor_id,
    ip: row.ip,
    clientId: row.client_id,
    details: withImpliedDetails(row.event ?? '', joinDetails(row.grant_id, row.scope, row.resource, row.details)),
  };
}

export interface AuditQueueOptions {
  /** Queued events beyond which `room()` holds request paths back. Default is 1000. */
  maxQueued?: number;
}

export class AuditLog {
  readonly #db: SqlDatabase;
  readonly #store: AuditStore;
  readonly #queue: BatchedWrites<StoredEvent>;

  /** `clock` stamps events and ages them out. */
  constructor(
    db: SqlDatabase,
    readonly policy: { retention: number; maxEvents: number },
    private readonly clock: Clock = systemClock,
    options: AuditQueueOptions = {},
  ) {
    this.#db = db;
    const store = new AuditStore(db);
    this.#store = store;
    this.#queue = new BatchedWrites({
      maxQueued: options.maxQueued,
      writeMany: (rows) => store.insert(rows),
    });
  }

  /**
   * Writes one event now; pass the caller's transaction as `tx` so the event commits (or rolls
   * back) with the change it records.
   */
  async record(entry: AuditEntry, tx: SqlExecutor = this.#db): Promise<void> {
    await this.#store.insert([this.#toRow(entry)], tx);
  }

  /**
   * Stamps the event now and writes it with the others of this event-loop turn; resolves once
   * it is committed, rejects if it could not be written.
   */
  enqueue(entry: AuditEntry): Promise<void> {
    return this.#queue.add(this.#toRow(entry));
  }

  /**
   * `enqueue` for a caller that does not wait for the write (an event the provider emits on the
   * request path): `refused` is called with the error and the event if it could not be written.
   * No promise per event.
   */
  push(entry: AuditEntry, refused: (err: unknown, event: { event: string }) => void): void {
    this.#queue.push(this.#toRow(entry), refused);
  }

  /** Resolves once the queue is below its bound: awaited before answering, it is back-pressure. */
  room(): Promise<void> {
    return this.#queue.room();
  }

  /** Resolves once every event queued so far is written. */
  flush(): Promise<void> {
    return this.#queue.flush();
  }

  #toRow(entry: AuditEntry): StoredEvent {
    const { grantId, scope, resource, rest } = storedDetailsOf(entry.details ?? {});
    return {
      at: this.clock.now(),
      event: entry.event,
      actor: cutText(storable(entry.actor.name), 200),
      actorId: typeof entry.actor.id === 'string' ? storable(entry.actor.id) : null,
      ip: entry.ip ?? null,
      clientId: typeof entry.clientId === 'string' ? cutText(storable(entry.clientId), 2000) : null,
      grantId,
      scope,
      resource,
      details: rest,
    };
  }

  /** Newest first, unless `afterId` is given (then oldest first, for following the log). */
  async query(filter: AuditFilter = {}): Promise<AuditRecord[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (filter.event) { where.push(`e.event_ref = ${VALUE_NUMBER}`); params.push(filter.event); }
    // Any case: the numbers of every spelling (`Admin`, `admin`) first, so the usual single one is
    // an equality the actor index serves in id order (an IN over a subquery made SQLite sort every
    // event of that actor before taking the newest 100).
    if (filter.actor) {
      const actors = await this.#store.numbersOfAnyCase(filter.actor);
      if (actors.length === 0) return [];
      where.push(actors.length === 1 ? 'e.actor_ref = ?' : `e.actor_ref IN (${actors.map(() => '?').join(', ')})`);
      params.push(...actors);
    }
    if (filter.clientId) { where.push(`e.client_ref = ${VALUE_NUMBER}`); params.push(filter.clientId); }
    if (filter.since !== undefined) { where.push('e.at >= ?'); params.push(filter.since); }
    if (filter.until !== undefined) { where.push('e.at < ?'); params.push(filter.until); }
    if (filter.beforeId !== undefined) { where.push('e.id < ?'); params.push(filter.beforeId); }
    if (filter.afterId !== undefined) { where.push('e.id > ?'); params.push(filter.afterId); }
    params.push(Math.min(Math.max(filter.limit ?? 100, 1), 1000));
    const order = filter.afterId !== undefined ? 'ASC' : 'DESC';
    const sql = `${SELECT_EVENTS} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY e.id ${order} LIMIT ?`;
    return (await this.#db.all<StoredRow>(sql, params)).map(toRecord);
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
    await this.#store.pruneValues();
    return old.changes + beyond.changes;
  }
}
