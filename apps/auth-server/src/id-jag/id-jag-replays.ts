/**
 * Replay detection for ID-JAGs (MCP enterprise-managed authorization §7.4.2: REQUIRED in this
 * profile; RFC 7523 §3 leaves it optional). An accepted assertion's (issuer, jti) is inserted once;
 * the primary key makes a second insert do nothing, so of two replicas presented the same ID-JAG
 * at once exactly one gets the row and the other refuses. Rows are kept until the assertion's
 * `exp` (plus the clock skew it was accepted with) and then swept.
 */
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';

export class IdJagReplays {
  constructor(private readonly db: SqlDatabase) {}

  /** True the first time (issuer, jti) is seen; false for a replay. `keepUntil` in epoch seconds. */
  async claim(issuer: string, jti: string, keepUntil: number): Promise<boolean> {
    const result = await this.db.run(
      'INSERT INTO id_jag_replays (issuer, jti, expires_at) VALUES (?, ?, ?) ON CONFLICT (issuer, jti) DO NOTHING',
      [issuer, jti, keepUntil],
    );
    return result.changes === 1;
  }

  /** Deletes what expired before `now` (epoch seconds); run by the sweeper. */
  async sweep(now: number): Promise<void> {
    await this.db.run('DELETE FROM id_jag_replays WHERE expires_at < ?', [now]);
  }
}
