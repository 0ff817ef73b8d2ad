/**
 * A PostgreSQL migration could not take a lock on a table it changes: another session (a running
 * replica's long transaction, a person's open psql) held it through every attempt
 * (postgres-database.ts, `migratePostgres`). Nothing of that migration was applied and nothing in
 * the code is wrong, so the start-up handler and the CLI print its message, one line naming the
 * migration and how to find the session, without a stack. Trying again once that session has
 * ended applies it: the message says "start again", as an app's start-up prints it; the CLI,
 * which migrates before its command too, says it in its own words (`describe`).
 */

/** Finds the sessions holding table locks in this database, the oldest transaction first. */
const FIND_HOLDERS = 'SELECT l.relation::regclass, l.mode, a.pid, a.xact_start, a.state, a.query FROM pg_locks l JOIN pg_stat_activity a USING (pid) '
  + 'WHERE l.granted AND l.relation IS NOT NULL AND a.datname = current_database() AND a.pid <> pg_backend_pid() ORDER BY a.xact_start';

export class MigrationBlockedError extends Error {
  override name = 'MigrationBlockedError';
  /** What was being done, as a subject ("migration 024_x.sql of auth-server"). */
  readonly step: string;
  readonly waits: { attempts: number; lockTimeoutMs: number };

  constructor(step: string, waits: { attempts: number; lockTimeoutMs: number }, options?: { cause?: unknown }) {
    super(blockedMigrationLine(step, waits, 'start again'), options);
    this.step = step;
    this.waits = { attempts: waits.attempts, lockTimeoutMs: waits.lockTimeoutMs };
  }

  /** The message, ending in `retry` (what to do once that session has ended) instead of "start again". */
  describe(retry: string): string {
    return blockedMigrationLine(this.step, this.waits, retry);
  }
}

function blockedMigrationLine(step: string, waits: { attempts: number; lockTimeoutMs: number }, retry: string): string {
  return `${step} needs a lock on a table that another session held through ${waits.attempts} attempts of ${waits.lockTimeoutMs} ms each `
    + '(lock_timeout), so nothing of it was applied. That session is usually a long open transaction: find it in pg_locks and '
    + `pg_stat_activity (${FIND_HOLDERS}), let it end or end it (SELECT pg_terminate_backend(pid)), then ${retry}`;
}
