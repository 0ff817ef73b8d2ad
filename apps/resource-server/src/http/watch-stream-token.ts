/**
 * Ends a session's server-to-client stream (the GET of MCP 2025-11-25 transports §Listening for
 * Messages from the Server), or a POST's answer still streaming (end-refused-post.ts), once the
 * access token it was opened with is no longer accepted.
 *
 * Why: the token is checked when a request arrives (require-bearer-token.ts), and a GET stream is
 * one request that lasts as long as the session. Without this, a client whose user was disabled,
 * whose grant or token was revoked, or whose token expired kept receiving what the session's
 * servers send (list changes, log messages, their requests to the client) until the session idled
 * out, although every other request it made was refused. RFC 6750 §3.1 and MCP 2025-11-25
 * authorization §Token Handling: a token that is expired or revoked is not to be honoured.
 *
 * - Every `intervalMs` the token is verified again, as a request's would be: from the verifier's
 *   cache until its `exp`, against the revocation feed every time. Refused (InvalidAccessTokenError,
 *   expired or revoked): `end` closes the stream; the client reopens it with its current token,
 *   and a refused one gets the 401 challenge that starts its authorization again.
 * - Deliberately not ended when the token cannot be checked (key set unreachable, revocation
 *   copy stale): the token may be fine, and new requests get 503 meanwhile; once the feed is
 *   readable again, a revocation it carries ends the stream at the next check.
 * - Stops when the response closes, whoever closed it.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../../../shared/logger.ts';
import { InvalidAccessTokenError, type VerifiedAccessToken } from '../auth/verify-access-token.ts';

export interface WatchStreamTokenOptions {
  /** Verifies an access token, throwing InvalidAccessTokenError when it is refused. */
  verify: (token: string) => Promise<unknown>;
  /** Time between two checks of one stream's token, in milliseconds. */
  intervalMs: number;
  logger: Logger;
}

/** Watches the stream `res`, opened with `auth`; `end` closes it once the token is refused. */
export type WatchStreamToken = (res: ServerResponse, auth: VerifiedAccessToken, end: () => void) => void;

export function watchStreamToken({ verify, intervalMs, logger }: WatchStreamTokenOptions): WatchStreamToken {
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) throw new TypeError('intervalMs must be a positive number');

  return function watchStreamTokenStep(res, auth, end) {
    let checking = false;
    const timer = setInterval(() => {
      if (checking) return;
      checking = true;
      verify(auth.token).then(() => {}, (err: unknown) => {
        if (!(err instanceof InvalidAccessTokenError) || res.writableEnded) return;
        clearInterval(timer);
        logger.info({ reason: err.reason }, 'mcp event stream ended: its access token is no longer accepted');
        end();
      }).finally(() => {
        checking = false;
      });
    }, intervalMs).unref();
    res.once('close', () => clearInterval(timer));
  };
}
