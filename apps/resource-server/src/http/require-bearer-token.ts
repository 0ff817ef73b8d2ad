/**
 * Authenticates every request to the MCP endpoint, whatever its method, with an OAuth 2.0 bearer
 * token from the Authorization header (RFC 6750 §2.1; MCP 2025-11-25 authorization §Token
 * Requirements: on every request, even within a session).
 *
 * - No token: 401 with a challenge that has no `error` (RFC 6750 §3.1), naming the metadata URL
 *   and the scopes to ask for (challenge_scopes), which is how a client learns to start the OAuth flow.
 * - A token in the query string (`access_token=`) or a form body is never read: OAuth 2.1 §5.2
 *   and the MCP spec forbid tokens in URIs, so such a request is treated as carrying no token.
 * - The scheme is matched case-insensitively (RFC 9110 §11.1); other schemes count as no token.
 * - More than one Authorization header: 400 `error="invalid_request"` (RFC 6750 §3.1: the
 *   request repeats a parameter), whatever they hold. Authorization is not a list (RFC 9110 §11.6.2),
 *   and Node keeps only the first and drops the rest, so the request would otherwise run as the
 *   first header's token while a proxy or log in front, reading the last, saw another caller.
 * - A token that fails verification: 401 `error="invalid_token"` with the verifier's description;
 *   its `reason` code goes to the log and to `onTokenRefused` (the metric label).
 * - The issuer's key set unreachable, or the revocation list not current (the auth-server's feed
 *   unreachable for longer than allowed): 503. The token may be fine, and sending the user
 *   through sign-in again would not help.
 * - On success it resolves to the VerifiedAccessToken; on a refusal it has answered and resolves
 *   to undefined.
 * - `steps` (the connection events, connections/mcp-connection-steps.ts) hears of the challenge,
 *   of each token's first accepted request (a token cache miss, so a cached token's call pays
 *   nothing for it) and of each refusal. The answers do not depend on it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../../shared/logger.ts';
import { RETRY_AFTER_SECONDS } from '../../../shared/say-when-to-retry.ts';
import { RevocationsUnavailableError } from '../auth/follow-revocation-feed.ts';
import {
  InvalidAccessTokenError, KeySetUnavailableError, type AccessTokenVerifier, type VerifiedAccessToken,
} from '../auth/verify-access-token.ts';
import { tokenFailureReason, type TokenFailureReason } from '../ops/token-failure-reason.ts';
import { answerJson } from './answer-json.ts';
import { bearerChallenge } from './bearer-challenge.ts';
import { countRawHeader } from '../../../shared/count-raw-header.ts';

export interface RequireBearerTokenOptions {
  verifier: AccessTokenVerifier;
  resourceMetadataUrl: string;
  /** Scopes named in the 401 challenge: what a client should ask for (challenge_scopes, mcp/advertised-scopes.ts). */
  challengeScopes: readonly string[];
  logger: Logger;
  /** Told why each presented token was refused (a short metric label, never the token). */
  onTokenRefused?: (reason: TokenFailureReason) => void;
  /** Told the steps of a connection seen here. Default: nobody. */
  steps?: BearerTokenSteps;
}

/** The steps of a connection the bearer check sees (apps/shared/connection-events.ts). */
export interface BearerTokenSteps {
  /** A request without a token, answered with the 401 challenge. */
  challenged(req: IncomingMessage): void;
  /** The first request accepted with a token: it verified afresh, not from the token cache. */
  accepted(req: IncomingMessage, verified: VerifiedAccessToken): void;
  /** A token refused (401) or that could not be checked (503). `credentials` only tells repeats apart. */
  refused(req: IncomingMessage, credentials: string, err: unknown): void;
}

/** The verified token of the request, or undefined once the request has been answered with a refusal. */
export type Authenticate = (req: IncomingMessage, res: ServerResponse) => Promise<VerifiedAccessToken | undefined>;

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token.
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const SCHEME = /^bearer(?: |$)/i;

const NOT_A_BEARER_TOKEN = 'the Authorization header does not hold a bearer token';
const MORE_THAN_ONE_HEADER = 'the request carries more than one Authorization header';

export function requireBearerToken({ verifier, resourceMetadataUrl, challengeScopes, logger, onTokenRefused, steps }: RequireBearerTokenOptions): Authenticate {
  function refuse(res: ServerResponse, error: 'invalid_token' | 'invalid_request' | undefined, errorDescription?: string): undefined {
    res.setHeader('WWW-Authenticate', bearerChallenge({ error, errorDescription, scopes: challengeScopes, resourceMetadataUrl }));
    answerJson(res, error === 'invalid_request' ? 400 : 401, error
      ? { error, error_description: errorDescription }
      : { error_description: 'this MCP server requires an OAuth 2.0 access token in the Authorization header' });
    return undefined;
  }

  return async function requireBearerTokenStep(req, res) {
    const header = req.headers.authorization ?? '';
    if (countRawHeader(req.rawHeaders, 'authorization') > 1) {
      onTokenRefused?.('malformed');
      steps?.refused(req, header, new InvalidAccessTokenError('malformed', MORE_THAN_ONE_HEADER));
      return refuse(res, 'invalid_request', MORE_THAN_ONE_HEADER);
    }
    if (!SCHEME.test(header)) {
      steps?.challenged(req);
      return refuse(res, undefined);
    }
    const token = BEARER.exec(header)?.[1];
    if (!token) {
      onTokenRefused?.('malformed');
      steps?.refused(req, header, new InvalidAccessTokenError('malformed', NOT_A_BEARER_TOKEN));
      return refuse(res, 'invalid_token', NOT_A_BEARER_TOKEN);
    }

    try {
      return await verifier.verifyAccessToken(token, steps && ((verified) => steps.accepted(req, verified)));
    } catch (err) {
      onTokenRefused?.(tokenFailureReason(err));
      steps?.refused(req, token, err);
      if (err instanceof InvalidAccessTokenError) {
        logger.debug({ reason: err.reason, description: err.message, cause: (err.cause as Error | undefined)?.message }, 'access token refused');
        return refuse(res, 'invalid_token', err.message);
      }
      if (err instanceof KeySetUnavailableError || err instanceof RevocationsUnavailableError) {
        // The verifier warns once per spell of failed fetches; per request it would be one line per forged kid.
        if (err instanceof KeySetUnavailableError) logger.debug({ err: err.cause }, 'issuer key set unavailable');
        else logger.warn('revocation list not current: refusing tokens until the feed is reachable');
        res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
        answerJson(res, 503, { error: 'temporarily_unavailable', error_description: 'the access token cannot be checked right now; try again shortly' });
        return undefined;
      }
      throw err;
    }
  };
}
