/**
 * A connection recorder that keeps every event in memory (issue 18), for tests that check what
 * an app records: pass it as `connectionRecorder` to startAuthServer / startResourceServer.
 * It stamps `id`, `at` and `app` as a real recorder does.
 */
import { randomUUID } from 'node:crypto';
import type { ConnectionApp, ConnectionEvent, ConnectionRecorder, ConnectionStep, NewConnectionEvent } from '../../apps/shared/connection-events.ts';

export class CapturedConnectionEvents implements ConnectionRecorder {
  readonly events: ConnectionEvent[] = [];
  /** Every event since the start, `clear` or not. */
  readonly all: ConnectionEvent[] = [];

  constructor(readonly app: ConnectionApp = 'auth-server') {}

  record(event: NewConnectionEvent, at = Date.now()): void {
    const stamped = { ...event, id: randomUUID(), at, app: this.app };
    this.events.push(stamped);
    this.all.push(stamped);
  }

  async flush(): Promise<void> {}

  /** Forgets what was recorded so far (between the cases of a table); `all` keeps it. */
  clear(): void {
    this.events.length = 0;
  }

  /** The events of `step`, oldest first. */
  of(step: ConnectionStep): ConnectionEvent[] {
    return this.events.filter((event) => event.step === step);
  }

  /** The one event of `step`; fails when there is none or more than one. */
  only(step: ConnectionStep): ConnectionEvent {
    const found = this.of(step);
    if (found.length !== 1) throw new Error(`expected one ${step} event, got ${found.length}: ${JSON.stringify(this.events, null, 2)}`);
    return found[0]!;
  }
}
