/**
 * A refused administrative request, with a message written for the person who made it. The web
 * pages show it next to the form field it is about (`field`, the name the form and the wire give
 * it: `username`, `redirect_uris`, `uri`, …) and keep the rest of the input; the CLI prints it and
 * exits with 1.
 */
import { PageError } from '../http/page-error.ts';

const CODES: Record<number, string> = { 400: 'invalid_request', 404: 'not_found', 409: 'conflict' };

export class AdminError extends PageError {
  override name = 'AdminError';
  /**
   * `secretInput`: the refusal is that `field` holds a secret (a private key pasted where public
   * keys go): the page shows the form again without that field's value.
   */
  constructor(status: 400 | 404 | 409, description: string, readonly field?: string, readonly secretInput = false) {
    super(status, CODES[status]!, description);
  }
}
