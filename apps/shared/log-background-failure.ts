/**
 * A failed run of a background task that tries again on its own (an allow-list reload, a sweep,
 * a batch of rate-limit counts, a signing-key check): while the database cannot be reached
 * (DatabaseUnavailableError) it is logged at warn with the database's words, as the requests
 * answered 503 meanwhile are (answer-database-unavailable.ts); anything else at error, with the
 * stack. An outage is the database's, reported by /readyz and over when it is back; logging each
 * two-second reload as our own failure buried the errors an operator must look at.
 */
import type { Logger } from './logger.ts';
import { databaseErrorReason, DatabaseUnavailableError } from './storage/database-unavailable-error.ts';

export function logBackgroundFailure(logger: Pick<Logger, 'warn' | 'error'>, err: unknown, message: string): void {
  if (err instanceof DatabaseUnavailableError) logger.warn({ reason: databaseErrorReason(err) }, message);
  else logger.error({ err }, message);
}
