/**
 * An error that carries its own answer: a status and an RFC 6749 §5.2 error response (`error`,
 * `error_description`), shaped as oidc-provider's own errors (lib/helpers/errors.js) so that its
 * error handler and both apps' error middlewares answer it as it says rather than as a 500
 * `server_error`.
 *
 * - `status` and `statusCode` are the same number: Koa reads the first, oidc-provider the second.
 * - `message` is the error code, never words that might carry a value from the request.
 * - `expose` is true whatever the status: the code and description are written for the client,
 *   a 503's too (unlike oidc-provider's `status < 500`), so a client knows it may try again.
 */
export class OAuthError extends Error {
  readonly statusCode: number;
  readonly expose = true;

  constructor(
    readonly status: number,
    readonly error: string,
    readonly error_description: string,
    options?: { cause?: unknown },
  ) {
    super(error, options);
    this.statusCode = status;
  }
}
