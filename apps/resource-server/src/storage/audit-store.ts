/**
 * The record of tool calls this server handled: who (token subject, username, client), which
 * server (`gatehouse` for the built-in tools) and tool, the outcome, how long it took, and when. Read back by the `recent_activity` tool; rows older than the retention
 * are swept so the table stays bounded.
 *
 * Arguments and results are deliberately not recorded: they may be private note contents.
 *
 * Records are written off the request path: `record` queues the row and the queue is written in
 * one transaction two turns of the event loop later (setImmediate twice), so calls finishing
 * together share one commit instead of one each, and the commit runs after the answers of the turn
 * they were recorded in have left (the MCP endpoint sends a turn's writes at its end,
 * http/coalesce-writes.ts): a call is recorded before its answer is written. Reads flush first, so
 * they always see every call recorded so far; `flush` at shutdown writes what is left. A crash can
 * lose at most the rows of those turns.
 */
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { Db } from '../../../shared/database.ts';

export type ToolCallOutcome = 'ok' | 'error' | 'denied';

export interface ToolCallRecord {
  subject: string;
  username?: string;
  clientId: string;
  /** The server the tool belongs to; `gatehouse` for the built-in tools. */
  server?: string;
  tool: string;
  outcome: ToolCallOutcome;
  durationMs?: number;
}

export interface ToolCallEntry {
  at: string;
  subject: string;
  username: string | null;
  client_id: string;
  tool: string;
  outcome: ToolCallOutcome;
}

interface ToolCallRow extends Omit<ToolCallEntry, 'at'> {
  at: number;
}

type InsertRow = [number, string, string | null, string, string | null, string, string, number | null];

export class AuditStore {
  readonly #insert;
  readonly #insertAll;
  readonly #recent;
  readonly #sweep;
  #pending: InsertRow[] = [];
  readonly #onWriteError: (err: unknown) => void;
  readonly #clock: Clock;

  /**
   * `onWriteError` is told when a queued write fails (it happens after the call was answered);
   * `clock` stamps records and ages them out.
   */
  constructor(db: Db, onWriteError: (err: unknown) => void = (err) => { throw err; }, clock: Clock = systemClock) {
    this.#onWriteError = onWriteError;
    this.#clock = clock;
    this.#insert = db.prepare<InsertRow>(
      'INSERT INTO tool_calls (at, subject, username, client_id, server, tool, outcome, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#insertAll = db.transaction((rows: InsertRow[]) => {
      for (const row of rows) this.#insert.run(...row);
    });
    this.#recent = db.prepare<[number], ToolCallRow>(
      'SELECT at, subject, username, client_id, tool, outcome FROM tool_calls ORDER BY id DESC LIMIT ?',
    );
    this.#sweep = db.prepare<[number]>('DELETE FROM tool_calls WHERE at < ?');
  }

  /** Queues the record; it is written two turns of the event loop later (or by `flush`). */
  record(call: ToolCallRecord, now = this.#clock.now()): void {
    if (this.#pending.length === 0) {
      setImmediate(() => setImmediate(() => {
        try {
          this.flush();
        } catch (err) {
          this.#onWriteError(err);
        }
      }));
    }
    this.#pending.push([now, call.subject, call.username ?? null, call.clientId, call.server ?? null, call.tool, call.outcome, call.durationMs ?? null]);
  }

  /** Writes every queued record, in one transaction. */
  flush(): void {
    if (this.#pending.length === 0) return;
    const rows = this.#pending;
    this.#pending = [];
    this.#insertAll(rows);
  }

  /** The newest `limit` calls, newest first. */
  recent(limit: number): ToolCallEntry[] {
    this.flush();
    return this.#recent.all(limit).map((row) => ({ ...row, at: new Date(row.at).toISOString() }));
  }

  /** Deletes records older than `maxAgeSeconds`; returns how many went. */
  sweep(maxAgeSeconds: number, now = this.#clock.now()): number {
    this.flush();
    return this.#sweep.run(now - maxAgeSeconds * 1000).changes;
  }
}
