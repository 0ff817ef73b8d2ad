/**
 * Rows written off the request path, many in one statement: `add` queues a row, and the rows
 * queued during one event-loop turn are written together (`writeMany`) once that turn's I/O
 * callbacks have run (`setImmediate`). One write is in flight at a time; rows queued meanwhile
 * go in the next one, so under load a write carries everything that arrived while the last one
 * ran, and rows commit in the order they were added.
 *
 * - Bounded: `room()` resolves once fewer than `maxQueued` rows wait. Callers that produce rows
 *   on a request await it before answering, so a writer that falls behind slows the requests
 *   down (back-pressure) instead of the queue growing or rows being dropped. `add` itself never
 *   refuses a row: the rows beyond the bound are at most one per request in flight.
 * - A failed write is tried again row by row, so one row the database refuses does not take the
 *   others with it; each row's promise (or `push`'s callback) settles with its own outcome.
 * - `push` queues a row nobody waits for (an audit event on the request path) without a promise
 *   per row: on a refresh grant the promise chain cost more CPU than the row's share of the
 *   write's JavaScript.
 * - `flush()` writes everything queued so far and resolves once it is committed: the owner
 *   calls it before closing the database, so a clean stop loses no row.
 * - A producer that must never wait (the connection recorder) reads `waiting` instead of `room()`
 *   and drops what does not fit.
 * - Deliberately not covered: a kill -9 loses the rows of the current turn and of the write in
 *   flight. Only rows that hand nothing out may go through here.
 */

interface Queued<Row> {
  row: Row;
  /** Called once the row is written; absent for a row queued with `push`. */
  written: (() => void) | undefined;
  /** Called with the error (and the row) if the database refused the row. */
  refused(err: unknown, row: Row): void;
}

export interface BatchedWritesOptions<Row> {
  /** Writes `rows` in one statement (or transaction), in order; rejects if nothing was written. */
  writeMany(rows: Row[]): Promise<void>;
  /** Rows that may wait before `room()` holds its callers back. Default is 1000. */
  maxQueued?: number;
}

export class BatchedWrites<Row> {
  readonly #writeMany: (rows: Row[]) => Promise<void>;
  readonly #maxQueued: number;
  #queued: Queued<Row>[] = [];
  /** Resolved once the rows queued now are written; made only when `flush()` asks. */
  #queuedWritten: { promise: Promise<void>; resolve(): void } | undefined;
  /** A write is scheduled for the end of this turn, or in flight. */
  #draining = false;
  /** Settles when the write in flight ends. */
  #inFlight: Promise<void> = Promise.resolve();
  /** Callers of `room()` waiting for the queue to be taken by the next write. */
  #waitingForRoom: (() => void)[] = [];

  constructor(options: BatchedWritesOptions<Row>) {
    this.#writeMany = options.writeMany;
    this.#maxQueued = options.maxQueued ?? 1000;
  }

  /** Queues `row`; resolves once it is committed, rejects if the database refused it. */
  add(row: Row): Promise<void> {
    return new Promise((resolve, reject) => this.#queue({ row, written: resolve, refused: reject }));
  }

  /**
   * Queues `row` for a caller that does not wait for it: `refused` is called with the error and
   * the row if the database refuses it (one function can serve every row). Written, flushed and
   * bounded as `add`'s rows are, without a promise per row.
   */
  push(row: Row, refused: (err: unknown, row: Row) => void): void {
    this.#queue({ row, written: undefined, refused });
  }

  #queue(queued: Queued<Row>): void {
    this.#queued.push(queued);
    if (!this.#draining) {
      this.#draining = true;
      setImmediate(() => void this.#drain());
    }
  }

  /** Rows waiting for the next write (not counting the write in flight). */
  get waiting(): number {
    return this.#queued.length;
  }

  /** Resolves at once while fewer than `maxQueued` rows wait; else when the next write takes them. */
  room(): Promise<void> {
    if (this.#queued.length < this.#maxQueued) return Promise.resolve();
    return new Promise((resolve) => this.#waitingForRoom.push(resolve));
  }

  /** Resolves once every row queued so far is written (or refused). */
  async flush(): Promise<void> {
    if (this.#queued.length === 0) return this.#inFlight;
    if (!this.#queuedWritten) {
      let resolve!: () => void;
      const promise = new Promise<void>((settle) => (resolve = settle));
      this.#queuedWritten = { promise, resolve };
    }
    // The queued rows are written after the write in flight: once they are, it has ended too.
    return this.#queuedWritten.promise;
  }

  /** Writes batch after batch until the queue is empty. */
  async #drain(): Promise<void> {
    while (this.#queued.length > 0) {
      const batch = this.#queued;
      const written = this.#queuedWritten;
      this.#queued = [];
      this.#queuedWritten = undefined;
      for (const wake of this.#waitingForRoom.splice(0)) wake();
      this.#inFlight = this.#write(batch);
      await this.#inFlight;
      written?.resolve();
    }
    this.#draining = false;
  }

  /** Never rejects: each row's own callbacks carry its outcome. */
  async #write(batch: Queued<Row>[]): Promise<void> {
    try {
      await this.#writeMany(batch.map((queued) => queued.row));
      for (const queued of batch) queued.written?.();
      return;
    } catch (err) {
      if (batch.length === 1) return refuse(batch[0]!, err);
    }
    for (const queued of batch) {
      await this.#writeMany([queued.row]).then(queued.written, (err: unknown) => refuse(queued, err));
    }
  }
}

/** Tells `queued`'s caller it was refused: a `push` callback that throws must not stop the queue. */
function refuse<Row>(queued: Queued<Row>, err: unknown): void {
  try {
    queued.refused(err, queued.row);
  } catch {
    // The caller's own failure handler failed; the row's outcome has nowhere else to go.
  }
}
