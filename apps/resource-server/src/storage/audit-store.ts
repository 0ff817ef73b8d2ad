/**
 * The record of tool calls this server handled: who (token subject, username or service account, client), which
 * server (`gatehouse` for the built-in tools) and tool, the outcome (for `limited`, which limit),
 * how long it took, and when.
 * Read back by the `recent_activity` tool; rows older than the retention are swept so the table
 * stays bounded. With replicas on one PostgreSQL database, every replica writes to and reads the
 * same table, so `recent_activity` on one shows the calls made on the others, once their batch
 * has committed (within about 50 ms of their answers, see below).
 *
 * Arguments and results are deliberately not recorded: they may be private note contents.
 *
 * Records are written off the request path: `record` queues the row, and the queue is written in
 * one transaction `writeDelayMs` (50 ms) after the first row of the batch was queued. So the calls
 * of those 50 ms share one commit instead of one each, and the commit runs after their answers
 * have left. Waiting a fixed time rather than a turn of the event loop matters most at low load:
 * with one call in flight a turn holds one call, and its own commit (a WAL append of every page
 * the row touches, ~60–140 µs on the main thread) then ran between each answer and the next
 * request (measured: 12,000 calls of bench/gateway-echo.ts made 12,000 commits). Reads flush
 * first and wait for writes already under way, so they always see every call recorded so far;
 * `flush` at shutdown writes what is left. A crash (kill -9) can lose at most the last 50 ms of
 * rows: a row hands nothing out, so no answer depends on it. A failed write is reported to
 * `onWriteError`, never thrown into the event loop.
 */
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { SqlDatabase, SqlExecutor, SqlValue } from '../../../shared/storage/sql-database.ts';

/**
 * `denied`: the token lacks the tool's scope. `limited`: refused unsent for want of room, the
 * caller having its most calls in flight at that server (gateway/call-budget.ts) or no per-user
 * process of it being startable now (gateway/process-budget.ts); it may pass once a call ends or a
 * process stops, and says nothing of the server, unlike `error`.
 */
export type ToolCallOutcome = 'ok' | 'error' | 'denied' | 'limited';

export interface ToolCallRecord {
  subject: string;
  username?: string;
  /** The service account's name when no user made the call. */
  service?: string;
  clientId: string;
  /** The server the tool belongs to; `gatehouse` for the built-in tools. */
  server?: string;
  tool: string;
  outcome: ToolCallOutcome;
  /**
   * For `limited`, the limit that refused it (gateway/upstream-errors.ts LIMITS). Stored as text
   * with no CHECK, so a newer replica sharing the database may record one this version does not know.
   */
  limitedBy?: string;
  durationMs?: number;
}

export interface ToolCallEntry {
  at: string;
  subject: string;
  username: string | null;
  service: string | null;
  client_id: string;
  tool: string;
  outcome: ToolCallOutcome;
  limited_by: string | null;
}

interface ToolCallRow extends Omit<ToolCallEntry, 'at'> {
  at: number;
}

type InsertRow = [number, string, string | null, string | null, string, string | null, string, string, string | null, number | null];

const COLUMNS = '(at, subject, username, service, client_id, server, tool, outcome, limited_by, duration_ms)';
/** Rows per INSERT: 10 values each stays far below both engines' limit on bound parameters. */
const ROWS_PER_STATEMENT = 200;
/** How long a batch gathers rows before it is written. */
const WRITE_DELAY_MS = 50;

export interface AuditStoreOptions {
  /** Milliseconds from a batch's first row to its write; default 50. */
  writeDelayMs?: number;
}

export class AuditStore {
  readonly #db: SqlDatabase;
  #pending: InsertRow[] = [];
  /** Settles when every write started so far has ended (failed ones included). */
  #writing: Promise<void> = Promise.resolve();
  readonly #onWriteError: (err: unknown) => void;
  readonly #clock: Clock;
  readonly #writeDelayMs: number;
  /** Writes the pending batch when its delay is up; undefined while nothing is pending. */
  #writeTimer: NodeJS.Timeout | undefined;

  /**
   * `onWriteError` is told when a queued write fails (it happens after the call was answered);
   * `clock` stamps records and ages them out.
   */
  constructor(db: SqlDatabase, onWriteError: (err: unknown) => void, clock: Clock = systemClock, { writeDelayMs = WRITE_DELAY_MS }: AuditStoreOptions = {}) {
    this.#db = db;
    this.#onWriteError = onWriteError;
    this.#clock = clock;
    this.#writeDelayMs = writeDelayMs;
  }

  /** Queues the record; it is written with its batch `writeDelayMs` later (or by `flush`). */
  record(call: ToolCallRecord, now = this.#clock.now()): void {
    // Real time, not the clock's: the delay batches writes; it decides nothing (clock.ts).
    this.#writeTimer ??= setTimeout(() => void this.flush(), this.#writeDelayMs);
    this.#pending.push([now, call.subject, call.username ?? null, call.service ?? null, call.clientId, call.server ?? null, call.tool, call.outcome, call.limitedBy ?? null, call.durationMs ?? null]);
  }

  /**
   * Writes every queued record in one transaction, after the writes already under way; resolves
   * when all of them have ended. Never rejects: a failure goes to `onWriteError`.
   */
  flush(): Promise<void> {
    clearTimeout(this.#writeTimer);
    this.#writeTimer = undefined;
    if (this.#pending.length > 0) {
      const rows = this.#pending;
      this.#pending = [];
      this.#writing = this.#writing.then(() => this.#insert(rows)).catch((err: unknown) => this.#onWriteError(err));
    }
    return this.#writing;
  }

  /** The newest `limit` calls, newest first. */
  async recent(limit: number): Promise<ToolCallEntry[]> {
    await this.flush();
    const rows = await this.#db.all<ToolCallRow>('SELECT at, subject, username, service, client_id, tool, outcome, limited_by FROM tool_calls ORDER BY id DESC LIMIT ?', [limit]);
    return rows.map((row) => ({ ...row, at: new Date(row.at).toISOString() }));
  }

  /** Deletes records older than `maxAgeSeconds`; returns how many went. */
  async sweep(maxAgeSeconds: number, now = this.#clock.now()): Promise<number> {
    await this.flush();
    return (await this.#db.run('DELETE FROM tool_calls WHERE at < ?', [now - maxAgeSeconds * 1000])).changes;
  }

  /**
   * A batch that fits one statement is that statement alone: one INSERT is atomic by itself, and
   * an explicit transaction around it costs two more statements (on PostgreSQL, two more round
   * trips). Only a larger batch needs one, so that it commits whole.
   */
  async #insert(rows: InsertRow[]): Promise<void> {
    if (rows.length <= ROWS_PER_STATEMENT) {
      await insertChunk(this.#db, rows);
      return;
    }
    await this.#db.transaction(async (tx) => {
      for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) await insertChunk(tx, rows.slice(start, start + ROWS_PER_STATEMENT));
    });
  }
}

async function insertChunk(db: SqlExecutor, rows: InsertRow[]): Promise<void> {
  const values = rows.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
  await db.run(`INSERT INTO tool_calls ${COLUMNS} VALUES ${values}`, rows.flat() as SqlValue[]);
}
