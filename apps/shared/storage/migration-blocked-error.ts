/**
 * A PostgreSQL migration could not take a lock on a table it changes: another session (a running
 * replica's long transaction, a nightly pg_dump, a person's open psql) held it through every
 * attempt (migrate-postgres.ts, `migratePostgres`). Nothing of that migration was applied and
 * nothing in the code is wrong, so the start-up handler and the CLI print its message, one line
 * naming the migration, the sessions that held locks on its schema's tables (find-lock-holders.ts)
 * and how to find them, without a stack. Trying again once that session has ended applies it: the
 * message says "start again", as an app's start-up prints it; the CLI, which migrates before its
 * command too, says it in its own words (`describe`).
 */
import type { LockHolder, LockHolders } from './find-lock-holders.ts';

/** Finds the sessions holding table locks in this database, the oldest transaction first. */
const FIND_HOLDERS = 'SELECT l.relation::regclass, l.mode, a.pid, a.xact_start, a.state, a.query FROM pg_locks l JOIN pg_stat_activity a USING (pid) '
  + 'WHERE l.granted AND l.relation IS NOT NULL AND a.datname = current_database() AND a.pid <> pg_backend_pid() ORDER BY a.xact_start';

interface Waits {
  attempts: number;
  lockTimeoutMs: number;
}

export class MigrationBlockedError extends Error {
  override name = 'MigrationBlockedError';
  /** What was being done, as a subject ("migration 024_x.sql of auth-server"). */
  readonly step: string;
  readonly waits: Waits;
  /** Undefined when looking them up failed. */
  readonly holders: LockHolders | undefined;

  constructor(step: string, waits: Waits, holders: LockHolders | undefined, options?: { cause?: unknown }) {
    super(blockedMigrationLine(step, waits, holders, 'start again'), options);
    this.step = step;
    this.waits = { attempts: waits.attempts, lockTimeoutMs: waits.lockTimeoutMs };
    this.holders = holders;
  }

  /** The message, ending in `retry` (what to do once that session has ended) instead of "start again". */
  describe(retry: string): string {
    return blockedMigrationLine(this.step, this.waits, this.holders, retry);
  }
}

function blockedMigrationLine(step: string, waits: Waits, holders: LockHolders | undefined, retry: string): string {
  return `${step} needs a lock on a table that another session held through ${waits.attempts} attempts of ${waits.lockTimeoutMs} ms each `
    + `(lock_timeout), so nothing of it was applied${holders ? `; ${describeHolders(holders)}` : ''}. That session is usually a long open `
    + `transaction: find it in pg_locks and pg_stat_activity (${FIND_HOLDERS}), let it end or end it (SELECT pg_terminate_backend(pid)), then ${retry}`;
}

function describeHolders({ shown, total }: LockHolders): string {
  if (total === 0) return 'no session held a lock on its schema\'s tables any more when looked up';
  const more = total > shown.length ? `, and ${total - shown.length} more` : '';
  return `locks on its schema's tables held by ${shown.map(describeHolder).join(', ')}${more}`;
}

/** "pid 4242 (pg_dump, active, transaction open 3 min)": what this role may see of it. */
function describeHolder({ pid, applicationName, state, transactionOpenSeconds }: LockHolder): string {
  const seen = [applicationName, state ?? '', transactionOpenSeconds === null ? '' : `transaction open ${howLong(transactionOpenSeconds)}`].filter(Boolean);
  return seen.length > 0 ? `pid ${pid} (${seen.join(', ')})` : `pid ${pid}`;
}

function howLong(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 120 * 60) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}
