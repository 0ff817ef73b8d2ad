/**
 * The database recorder: one class for both apps, each writing its own table
 * (connection-event-store.ts). What `record` does on the request path is deliberately tiny:
 * count a refusal, check the queue's length, push the event with the clock's time (or the time
 * the emitter says it happened). The id, the
 * trimming (trim-connection-event.ts) and the INSERT happen in the batch written once the turn's
 * I/O has run (apps/shared/storage/batched-writes.ts).
 *
 * - Never blocks, never throws: when `maxQueued` events already wait (the database fell behind),
 *   the event is dropped and counted (`gatehouse_connection_events_dropped_total`) instead of
 *   holding a token or MCP request back. These events hand nothing out.
 * - A failed write is logged at warn (each event is tried once more on its own first); the
 *   request it came from was answered long before.
 * - `flush()` writes what is queued: both apps call it on close and shutdown.
 * - The failure counter is counted here, at `record`, so it counts what the clients met even
 *   when the event itself is dropped.
 */
import type { Clock } from '../clock.ts';
import type { ConnectionApp, ConnectionRecorder, NewConnectionEvent } from '../connection-events.ts';
import type { Logger } from '../logger.ts';
import { BatchedWrites } from '../storage/batched-writes.ts';
import type { ConnectionEventStore } from './connection-event-store.ts';
import type { ConnectionMetrics } from './connection-metrics.ts';
import { trimConnectionEvent } from './trim-connection-event.ts';

export interface ConnectionRecorderOptions {
  store: ConnectionEventStore;
  app: ConnectionApp;
  clock: Clock;
  logger: Logger;
  metrics: ConnectionMetrics;
  /** Events that may wait for a write before new ones are dropped. Default is 10000. */
  maxQueued?: number;
}

interface Queued {
  event: NewConnectionEvent;
  at: number;
}

/** A reason code as emitters write them (`redirect_uri_not_allowed`): anything else is not a label. */
const REASON_CODE = /^[a-z][a-z0-9_]{0,63}$/;

export class DatabaseConnectionRecorder implements ConnectionRecorder {
  readonly #queue: BatchedWrites<Queued>;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #metrics: ConnectionMetrics;
  readonly #maxQueued: number;
  /** The failure counter's series by "step reason": prom-client hashes labels on every inc otherwise. */
  readonly #failureSeries = new Map<string, { inc(): void }>();
  readonly #onWriteFailed = (err: unknown) => this.#logger.warn({ err }, 'a connection event could not be written');

  constructor(options: ConnectionRecorderOptions) {
    const { store, app } = options;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#maxQueued = options.maxQueued ?? 10_000;
    this.#queue = new BatchedWrites<Queued>({
      maxQueued: this.#maxQueued,
      writeMany: (rows) => store.insertMany(rows.map(({ event, at }) => trimConnectionEvent(event, { at, app }))),
    });
  }

  record(event: NewConnectionEvent, at = this.#clock.now()): void {
    try {
      if (event.outcome === 'refused') {
        const reason = event.reasonCode !== undefined && REASON_CODE.test(event.reasonCode) ? event.reasonCode : 'other';
        const key = `${event.step} ${reason}`;
        let series = this.#failureSeries.get(key);
        if (!series) {
          series = this.#metrics.failures.labels({ step: event.step, reason });
          this.#failureSeries.set(key, series);
        }
        series.inc();
      }
      if (this.#queue.waiting >= this.#maxQueued) {
        this.#metrics.dropped.inc();
        return;
      }
      this.#queue.add({ event, at }).catch(this.#onWriteFailed);
    } catch (err) {
      // Recording is never worth a failed request.
      this.#onWriteFailed(err);
    }
  }

  flush(): Promise<void> {
    return this.#queue.flush();
  }
}
