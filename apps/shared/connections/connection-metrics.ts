/**
 * The flight recorder's Prometheus counters, registered in each app's registry (the registry's
 * default label says which app: `app="auth-server"` or `app="resource-server"`).
 *
 * - `gatehouse_connection_failures_total{step, reason}`: refused connection events. `step` is one
 *   of CONNECTION_STEPS and `reason` a reason code fixed in the emitting code, so both label sets
 *   are bounded; a code that does not look like one is counted as `other` (connection-recorder.ts).
 * - `gatehouse_connection_events_dropped_total`: events not kept because the write queue was full
 *   (the database fell behind): recording never holds a request back instead.
 */
import { Counter } from 'prom-client';
import type { Registry } from '../metrics.ts';

export interface ConnectionMetrics {
  failures: Counter<'step' | 'reason'>;
  dropped: Counter;
}

export function createConnectionMetrics(registry: Registry): ConnectionMetrics {
  const registers = [registry];
  return {
    failures: new Counter({
      name: 'gatehouse_connection_failures_total',
      help: 'Refused steps of clients connecting to the MCP server, by step and reason code.',
      labelNames: ['step', 'reason'] as const,
      registers,
    }),
    dropped: new Counter({
      name: 'gatehouse_connection_events_dropped_total',
      help: 'Connection events not recorded because the write queue was full.',
      registers,
    }),
  };
}
