/**
 * A refused administrative request, with a message written for the person who made it. The web
 * pages show it on the error page (it is a PageError); the CLI prints it and exits with 1.
 */
import { PageError } from '../http/page-error.ts';

const CODES: Record<number, string> = { 400: 'invalid_request', 404: 'not_found', 409: 'conflict' };

export class AdminError extends PageError {
  override name = 'AdminError';
  constructor(status: 400 | 404 | 409, description: string) {
    super(status, CODES[status]!, description);
  }
}
