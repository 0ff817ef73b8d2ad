/**
 * The record of tool calls this server handled: who (token subject, username, client), which
 * server (`gatehouse` for the built-in tools) and tool, the outcome, how long it took, and when. Read back by the `recent_activity` tool; rows older than the retention
 * are swept so the table stays bounded.
 *
 * Arguments and results are deliberately not recorded: they may be private note contents.
 */
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

export class AuditStore {
  readonly #insert;
  readonly #recent;
  readonly #sweep;

  constructor(db: Db) {
    this.#insert = db.prepare<[number, string, string | null, string, string | null, string, string, number | null]>(
      'INSERT INTO tool_calls (at, subject, username, client_id, server, tool, outcome, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#recent = db.prepare<[number], ToolCallRow>(
      'SELECT at, subject, username, client_id, tool, outcome FROM tool_calls ORDER BY id DESC LIMIT ?',
    );
    this.#sweep = db.prepare<[number]>('DELETE FROM tool_calls WHERE at < ?');
  }

  record(call: ToolCallRecord, now = Date.now()): void {
    this.#insert.run(now, call.subject, call.username ?? null, call.clientId, call.server ?? null, call.tool, call.outcome, call.durationMs ?? null);
  }

  /** The newest `limit` calls, newest first. */
  recent(limit: number): ToolCallEntry[] {
    return this.#recent.all(limit).map((row) => ({ ...row, at: new Date(row.at).toISOString() }));
  }

  /** Deletes records older than `maxAgeSeconds`; returns how many went. */
  sweep(maxAgeSeconds: number, now = Date.now()): number {
    return this.#sweep.run(now - maxAgeSeconds * 1000).changes;
  }
}
