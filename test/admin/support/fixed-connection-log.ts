/**
 * A ConnectionLog over attempts a test gives, filtered as the read API promises (client, account,
 * outcome, limit; newest first), for the views while the recorder is not on main yet. It
 * remembers the filters it was asked for, so a test sees what a page or "My apps" asked.
 */
import type {
  ConnectionAttempt, ConnectionFilter, ConnectionList, ConnectionLog,
} from '../../../apps/shared/connection-events.ts';

export class FixedConnectionLog implements ConnectionLog {
  readonly asked: ConnectionFilter[] = [];
  problem?: string;

  constructor(readonly attempts: ConnectionAttempt[]) {}

  async list(filter: ConnectionFilter = {}): Promise<ConnectionList> {
    this.asked.push(filter);
    const attempts = this.attempts
      .filter((a) => (filter.clientId === undefined || a.clientId === filter.clientId)
        && (filter.accountId === undefined || a.accountId === filter.accountId)
        && (filter.outcome === undefined || a.outcome === filter.outcome))
      .sort((a, b) => b.startedAt - a.startedAt)
      .slice(0, filter.limit ?? 50)
      .map(({ events: _events, ...summary }) => summary);
    return { attempts, ...(this.problem ? { problem: this.problem } : {}) };
  }

  async show(id: string) {
    const attempt = this.attempts.find((a) => a.id === id);
    return attempt && { attempt, ...(this.problem ? { problem: this.problem } : {}) };
  }
}
