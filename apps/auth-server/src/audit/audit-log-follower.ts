/**
 * Follows the audit log as it grows (`gatehouse audit tail --follow`): each `next()` returns the
 * events written since the previous one, each event once, oldest id first.
 *
 * - Ids are not committed in id order on PostgreSQL: an identity value is taken when the row is
 *   inserted and seen when its transaction commits, so with replicas writing at once, id 11 can be
 *   visible before id 10. A follower that asked only for ids above the last it returned would
 *   never return 10. So each call also asks again for the events stamped within the last
 *   `settleMs` and returns those it has not returned yet.
 * - Deliberately not covered: an event whose commit comes more than `settleMs` after its stamp
 *   (it would sit in an open transaction that long; audit rows are written in short ones), or more
 *   than 1000 events within `settleMs` (a poll reads at most 1000 of them).
 */
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { AuditFilter, AuditLog, AuditRecord } from './audit-log.ts';

/** Milliseconds an event's commit may trail its stamp and still be followed. */
export const SETTLE_MS = 10_000;
const MOST_PER_QUERY = 1000;

export interface AuditLogFollowerOptions {
  /** Events up to this id are not returned: what the follower started from. */
  afterId: number;
  /** Events already shown (the tail before following); they are not returned again. */
  shown?: readonly AuditRecord[];
  /** Stamps the window of events asked for again. Default: systemClock. */
  clock?: Clock;
  /** In milliseconds. Default is SETTLE_MS. */
  settleMs?: number;
}

export class AuditLogFollower {
  readonly #log: AuditLog;
  readonly #filter: AuditFilter;
  readonly #startAfter: number;
  readonly #clock: Clock;
  readonly #settleMs: number;
  #lastId: number;
  /** Ids returned whose stamp is still within the window (id → stamp). */
  readonly #returned = new Map<number, number>();

  constructor(log: AuditLog, filter: AuditFilter, options: AuditLogFollowerOptions) {
    this.#log = log;
    this.#filter = filter;
    this.#startAfter = options.afterId;
    this.#lastId = options.afterId;
    this.#clock = options.clock ?? systemClock;
    this.#settleMs = options.settleMs ?? SETTLE_MS;
    for (const event of options.shown ?? []) this.#remember(event);
  }

  async next(): Promise<AuditRecord[]> {
    const windowStart = Math.max(this.#clock.now() - this.#settleMs, this.#filter.since ?? 0);
    const [recent, newer] = await Promise.all([
      this.#log.query({ ...this.#filter, since: windowStart, afterId: this.#startAfter, limit: MOST_PER_QUERY }),
      this.#log.query({ ...this.#filter, afterId: this.#lastId, limit: MOST_PER_QUERY }),
    ]);
    const fresh = new Map<number, AuditRecord>();
    for (const event of [...recent, ...newer]) if (!this.#returned.has(event.id)) fresh.set(event.id, event);
    const events = [...fresh.values()].sort((a, b) => a.id - b.id);
    for (const event of events) this.#remember(event);
    // Forgotten once outside the window and at or below lastId: neither query returns them again.
    for (const [id, at] of this.#returned) if (at < windowStart && id <= this.#lastId) this.#returned.delete(id);
    return events;
  }

  #remember(event: AuditRecord): void {
    this.#returned.set(event.id, event.at);
    if (event.id > this.#lastId) this.#lastId = event.id;
  }
}
