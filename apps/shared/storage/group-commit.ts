/**
 * SQLite writes committed in groups: the writes (`run`) queued during one event-loop turn run in
 * order, in one transaction, once that turn's I/O callbacks have run (`setImmediate`), and each
 * caller's promise settles only after that COMMIT. A write is acknowledged exactly as before,
 * once it is durable in the WAL; it is only acknowledged a turn later, together with the others.
 *
 * Why: on the token path every write committed alone cost 80–110 µs of the main thread (each
 * COMMIT appends every page it touched, table and index leaves, to the WAL, and checkpoints follow
 * that volume). Refresh grants under load write a consume and an insert each; in one commit the
 * writes of several grants share their pages (measured in the commit that brought this in).
 *
 * - A write that fails alone (a constraint) fails alone: SQLite undoes only that statement and
 *   the others still commit, each settling with its own outcome, as they would have one by one.
 *   When the group cannot commit at all (BEGIN or COMMIT fails, or an error ends the transaction),
 *   it is rolled back and every write in it is run again on its own, so each gets the outcome it
 *   would have had without grouping.
 * - Writes issued by the code a commit resumes (a refresh grant's insert, issued once its consume is
 *   committed) form the next group as soon as that code has run (the microtasks the commit
 *   released), not a whole event-loop turn later: the next turn first runs every request that
 *   arrived meanwhile, and that wait (once per write a request makes in sequence) took the
 *   refresh bench below the throughput of committing each write at once although it used less CPU.
 * - A lone write runs without BEGIN/COMMIT: a transaction around one statement only costs more.
 * - `commitNow()` runs what is queued at once; the database calls it before anything that must
 *   come after those writes: a transaction, a statement that writes through `get`/`all`
 *   (RETURNING), a script, closing.
 * - Deliberately not done: reads do not wait for queued writes. A queued write has not been
 *   acknowledged to anyone, so a read that runs before it is a read that came first; making
 *   reads wait would end most groups at one write (requests interleave reads and writes).
 */
import type Database from 'better-sqlite3';
import type { SqlRunResult } from './sql-database.ts';

interface QueuedWrite {
  statement: Database.Statement;
  values: unknown[];
  resolve(result: SqlRunResult): void;
  reject(err: unknown): void;
}

type Outcome = { changes: number } | { error: unknown };

export class GroupCommit {
  readonly #handle: Database.Database;
  #queued: QueuedWrite[] = [];
  #scheduled = false;
  /** A commit of the writes issued by the code the last commit resumed is scheduled. */
  #followUp = false;

  constructor(handle: Database.Database) {
    this.#handle = handle;
  }

  /** Queues `statement` with its bound `values`; settles once the group holding it is committed. */
  add(statement: Database.Statement, values: unknown[]): Promise<SqlRunResult> {
    return new Promise((resolve, reject) => {
      this.#queued.push({ statement, values, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.commitNow();
        });
      }
    });
  }

  /** Whether writes are queued and not yet run. */
  get pending(): boolean {
    return this.#queued.length > 0;
  }

  /** Runs every queued write now (synchronously), in order, and settles each. */
  commitNow(): void {
    const group = this.#queued;
    if (group.length === 0) return;
    this.#queued = [];
    const outcomes = group.length === 1 ? [this.#runAlone(group[0]!)] : this.#runTogether(group) ?? group.map((write) => this.#runAlone(write));
    group.forEach((write, i) => {
      const outcome = outcomes[i]!;
      if ('error' in outcome) write.reject(outcome.error);
      else write.resolve({ changes: outcome.changes });
    });
    if (!this.#followUp) {
      this.#followUp = true;
      // A tick queued from a microtask runs once the microtask queue is empty, i.e. once every
      // caller settled above has run up to its next wait (Node's processTicksAndRejections).
      queueMicrotask(() => process.nextTick(() => {
        this.#followUp = false;
        this.commitNow();
      }));
    }
  }

  #runAlone(write: QueuedWrite): Outcome {
    try {
      return { changes: write.statement.run(...write.values).changes };
    } catch (error) {
      return { error };
    }
  }

  /** Every write in one transaction; undefined (and nothing kept) when the group could not commit. */
  #runTogether(group: QueuedWrite[]): Outcome[] | undefined {
    const handle = this.#handle;
    try {
      handle.exec('BEGIN IMMEDIATE');
      const outcomes = group.map((write) => {
        const outcome = this.#runAlone(write);
        // An error that ended the transaction (disk full, I/O) took the earlier writes with it.
        if ('error' in outcome && !handle.inTransaction) throw outcome.error;
        return outcome;
      });
      handle.exec('COMMIT');
      return outcomes;
    } catch {
      try {
        if (handle.inTransaction) handle.exec('ROLLBACK');
      } catch {
        // SQLite has already ended the transaction; nothing of the group is kept either way.
      }
      return undefined;
    }
  }
}
