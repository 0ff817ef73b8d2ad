/**
 * A connection recorder that keeps what it is told in memory, for tests that assert which events a
 * server records (and that nothing secret is in them) without reading a database.
 */
import type { ConnectionRecorder, ConnectionStep, NewConnectionEvent } from '../../../apps/shared/connection-events.ts';

export class CapturedConnectionEvents implements ConnectionRecorder {
  readonly events: NewConnectionEvent[] = [];

  record(event: NewConnectionEvent): void {
    this.events.push(structuredClone(event));
  }

  async flush(): Promise<void> {}

  /** The events of `step`, oldest first. */
  of(step: ConnectionStep): NewConnectionEvent[] {
    return this.events.filter((event) => event.step === step);
  }

  /** Forgets every event so far (between tests sharing one server). */
  clear(): void {
    this.events.length = 0;
  }
}
