/**
 * PostgreSQL cannot be reached: no connection could be had (the server is restarting, refuses
 * connections, or every connection of the pool stayed busy past `connectTimeoutMs`), or the
 * server ended the connection a statement ran on (a restart, a failover, an administrator).
 * Nothing is wrong with the request, and sending it again once the database is back works, so it
 * is 503 `temporarily_unavailable` (RFC 6749 §4.1.2.1, an OAuthError), instead of a 500
 * `server_error` with a stack in the log. The pool opens new connections on the next statement,
 * so service resumes without a restart.
 *
 * Deliberately not covered: a statement cancelled by `statement_timeout` (57014) or refused by a
 * constraint is the statement's own failure, not the database's absence.
 */
import { OAuthError } from '../oauth-error.ts';

export class DatabaseUnavailableError extends OAuthError {
  override name = 'DatabaseUnavailableError';

  constructor(options?: { cause?: unknown }, description = 'the database is unavailable; try again shortly') {
    super(503, 'temporarily_unavailable', description, options);
  }
}

/**
 * PostgreSQL ended a transaction so that another could go on: a deadlock (40P01) or a
 * serialization failure (40001). Nothing of it was kept, and the same request sent again normally
 * succeeds, so it is answered as the database out of reach is (503 `temporarily_unavailable`,
 * Retry-After), not as a 500 `server_error`. Unlike a lost connection, the connection is sound.
 */
export class DatabaseConflictError extends DatabaseUnavailableError {
  override name = 'DatabaseConflictError';

  constructor(options?: { cause?: unknown }) {
    super(options, 'the database turned the change away in favour of another one made at the same moment; try again shortly');
  }
}

/** Whether a statement failed because PostgreSQL ended its transaction for another's sake. */
export function isTransactionConflict(err: unknown): boolean {
  return err instanceof Error && /^(40P01|40001)$/.test(String((err as { code?: unknown }).code));
}

/**
 * SQLSTATEs of a connection the server ended or would not start: class 08 (connection
 * exception), 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up
 * or shutting down), 53300 too_many_connections.
 */
const LOST_CONNECTION = /^(08...|57P0[123]|53300)$/;

/** Whether a statement failed because its connection was lost, not because of the statement. */
export function isLostConnection(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return LOST_CONNECTION.test(code) || /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT)$/.test(code);
  // node-postgres's own words for a socket that closed under a query.
  return /^Connection terminated/.test(err.message);
}

/**
 * Why a statement failed, in the database's words, for a person (the CLI, a replica that cannot
 * start): a DatabaseUnavailableError's message is its RFC code, its cause says what happened
 * ("connect ECONNREFUSED 127.0.0.1:5432", "The server does not support SSL connections").
 */
export function databaseErrorReason(err: unknown): string {
  const shown = err instanceof DatabaseUnavailableError && err.cause !== undefined ? err.cause : err;
  return shown instanceof Error ? shown.message : String(shown);
}
