/**
 * A statement's parameter holds U+0000, which PostgreSQL text cannot hold: it refuses the whole
 * statement (SQLSTATE 22021, "invalid byte sequence for encoding UTF8: 0x00"). No stored value
 * can equal such a string and none can be written, and it always comes from a request (a
 * client_id, a username, a search, a form field, a note), so it is the request's fault, not the
 * server's: 400 `invalid_request` (RFC 6749 §5.2, an OAuthError), instead of a database error
 * answered 500 and logged at error.
 */
import { OAuthError } from '../oauth-error.ts';

export class NulCharacterError extends OAuthError {
  override name = 'NulCharacterError';

  constructor() {
    super(400, 'invalid_request', 'a value contains a NUL character (U+0000)');
  }
}

/** Whether a statement's parameters hold a string with U+0000. */
export function hasNulCharacter(values: readonly unknown[]): boolean {
  return values.some((value) => typeof value === 'string' && value.includes('\u0000'));
}
