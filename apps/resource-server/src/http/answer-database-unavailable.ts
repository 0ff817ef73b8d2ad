/**
 * The answer while PostgreSQL cannot be reached (DatabaseUnavailableError): 503
 * `temporarily_unavailable` with Retry-After, as for a token that cannot be checked
 * (require-bearer-token.ts). The request was fine and will work once the database is back, so
 * it is logged at warn with the database's own error, not as a failure of ours with a stack.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../../../shared/logger.ts';
import { RETRY_AFTER_SECONDS } from '../../../shared/say-when-to-retry.ts';
import type { DatabaseUnavailableError } from '../../../shared/storage/database-unavailable-error.ts';
import { answerJson } from './answer-json.ts';

export function answerDatabaseUnavailable(res: ServerResponse, err: DatabaseUnavailableError, logger: Pick<Logger, 'warn'>): void {
  logger.warn({ reason: err.cause instanceof Error ? err.cause.message : undefined }, 'database unavailable');
  res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
  answerJson(res, 503, { error: err.error, error_description: err.error_description });
}
