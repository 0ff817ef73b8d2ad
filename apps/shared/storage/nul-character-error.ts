/**
 * A statement's parameter holds U+0000, which PostgreSQL text cannot hold: it refuses the whole
 * statement (SQLSTATE 22021, "invalid byte sequence for encoding UTF8: 0x00"). No stored value
 * can equal such a string and none can be written, and it always comes from a request (a
 * client_id, a username, a search, a form field, a note), so it is the request's fault, not the
 * server's: 400 `invalid_request` (RFC 6749 §5.2), shaped as both apps' error middlewares and
 * oidc-provider's error handler read a client error (`status`/`statusCode`, `expose`, the code
 * as `message`), instead of a database error answered 500 and logged at error.
 */
export class NulCharacterError extends Error {
  readonly status = 400;
  readonly statusCode = 400;
  readonly expose = true;
  readonly error = 'invalid_request';
  readonly error_description = 'a value contains a NUL character (U+0000)';

  constructor() {
    super('invalid_request');
    this.name = 'NulCharacterError';
  }
}

/** Whether a statement's parameters hold a string with U+0000. */
export function hasNulCharacter(values: readonly unknown[]): boolean {
  return values.some((value) => typeof value === 'string' && value.includes('\u0000'));
}
