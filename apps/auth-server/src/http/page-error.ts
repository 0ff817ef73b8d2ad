/**
 * An error meant to be shown: its RFC-style code and plain-words description reach the page (or
 * the JSON body) through the error middleware, whatever its status.
 */
export class PageError extends Error {
  readonly expose = true;
  constructor(
    readonly status: number,
    readonly error: string,
    readonly error_description?: string,
    /** What the error page offers besides the message: a link to /account. */
    readonly offers: { accountLink?: boolean } = {},
  ) {
    super(error);
  }
}
