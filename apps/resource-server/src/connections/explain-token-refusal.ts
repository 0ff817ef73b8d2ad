/**
 * Why the MCP endpoint refused a bearer token, as a connection event says it: the RFC 6750 error
 * the client got, a stable `reasonCode` (a metric label, so one of a fixed set here, never taken
 * from the request) and the reason in plain words an admin can act on, with the values that
 * explain it ("the access token expired at 2026-12-01 14:02:11 UTC").
 *
 * - Values in the words, and the client, user and grant of the event, come only from
 *   `InvalidAccessTokenError.claims`, which the verifier sets only once the token's signature
 *   verified: an unverified token's claims are never read, so a forger cannot write into the log.
 * - Never the token, nor any part of it.
 * - Not here: deciding whether to refuse (auth/verify-access-token.ts) or what the client is told
 *   (http/require-bearer-token.ts); those stay as they were.
 */
import type { NewConnectionEvent } from '../../../shared/connection-events.ts';
import { RevocationsUnavailableError } from '../auth/follow-revocation-feed.ts';
import type { RevokedBy } from '../auth/revocation-list.ts';
import {
  InvalidAccessTokenError, KeySetUnavailableError, type InvalidAccessTokenReason, type RefusedTokenClaims,
} from '../auth/verify-access-token.ts';

/** The event's fields that say why (and, when the signature verified, whose token it was). */
export type TokenRefusal = Pick<NewConnectionEvent, 'error' | 'reasonCode' | 'reason' | 'clientId' | 'accountId' | 'grantId' | 'scope' | 'resource'>;

export interface ThisServer {
  /** The resource tokens must be for (RFC 8707). */
  resource: string;
  /** The issuer tokens must come from. */
  issuer: string;
}

/**
 * Why each verifier check refused: the reason code, and the words, given the token's verified
 * claims and the verifier's fixed description.
 */
const EXPLAINED: Record<InvalidAccessTokenReason, (claims: RefusedTokenClaims, server: ThisServer, description: string) => [string, string]> = {
  expired: ({ expiresAt }) => ['token_expired', expiresAt === undefined
    ? 'the access token expired; the client should refresh it'
    : `the access token expired at ${utc(expiresAt)}; the client should refresh it`],
  audience: ({ audience }, { resource }) => ['wrong_audience', audience
    ? `token audience is another resource: ${audience.map(quote).join(', ')}, not ${quote(resource)}`
    : `token audience is another resource, not ${quote(resource)}`],
  issuer: ({ issuer }, server) => ['wrong_issuer', issuer
    ? `token issuer is ${quote(issuer)}, not ${quote(server.issuer)}: a token from another authorization server`
    : `token issuer is not ${quote(server.issuer)}: a token from another authorization server`],
  signature: () => ['bad_signature', "the access token's signature does not verify with the issuer's key: it was altered, or signed by someone else"],
  forbidden_header: () => ['bad_signature', 'the access token names its own signing key (a jku, x5u, jwk or x5c header), which is never trusted'],
  unknown_key: () => ['unknown_signing_key', 'the access token is signed with a key the issuer does not publish, or names none (no kid): a retired key, or a token from another authorization server'],
  algorithm: () => ['wrong_algorithm', 'the access token is not signed with RS256 (none, HS256 and every other algorithm are refused)'],
  malformed: () => ['malformed_token', 'the bearer token is not a JWT access token'],
  too_large: () => ['malformed_token', 'the bearer token is longer than this server accepts'],
  not_access_token: () => ['not_an_access_token', 'the token is not an access token (its typ is not at+jwt): an ID token sent as a bearer token?'],
  not_yet_valid: () => ['token_not_yet_valid', "the access token is not valid yet (nbf): do the auth-server's and this server's clocks disagree?"],
  sender_constrained: () => ['sender_constrained', 'the access token is bound to a DPoP or mTLS key (cnf), which this server does not check'],
  // The verifier's description names the claim ("the access token has no jti claim").
  missing_claim: (_claims, _server, description) => ['invalid_claims', description],
  invalid_claims: (_claims, _server, description) => ['invalid_claims', description],
  lifetime: (_claims, _server, description) => ['invalid_claims', description],
  revoked: ({ revokedBy, clientId }) => ['token_revoked', revokedWords(revokedBy, clientId)],
};

/** The event fields for `err`, what the token verifier (or the header check) threw; undefined for anything else. */
export function explainTokenRefusal(err: unknown, server: ThisServer): TokenRefusal | undefined {
  if (err instanceof KeySetUnavailableError) {
    return { error: 'temporarily_unavailable', reasonCode: 'key_set_unavailable', reason: "the issuer's key set (JWKS) could not be fetched, so no token could be checked" };
  }
  if (err instanceof RevocationsUnavailableError) {
    return {
      error: 'temporarily_unavailable',
      reasonCode: 'revocations_unavailable',
      reason: "the auth-server's revocation feed has not been readable for longer than revocation.max_staleness, so tokens are refused until it is",
    };
  }
  if (!(err instanceof InvalidAccessTokenError)) return undefined;

  const claims = err.claims ?? {};
  const [reasonCode, reason] = EXPLAINED[err.reason](claims, server, err.message);
  return {
    error: 'invalid_token',
    reasonCode,
    reason,
    ...(claims.clientId ? { clientId: claims.clientId } : {}),
    ...(claims.subject ? { accountId: claims.subject } : {}),
    ...(claims.grantId ? { grantId: claims.grantId } : {}),
    ...(claims.scope !== undefined ? { scope: claims.scope } : {}),
    resource: err.reason === 'audience' && claims.audience ? claims.audience[0] : server.resource,
  };
}

function revokedWords(revokedBy: RevokedBy | undefined, clientId: string | undefined): string {
  switch (revokedBy) {
    case 'sub': return "the access token was revoked: the user's access was stopped (disabled, or signed out everywhere) after it was issued";
    case 'client': return `the access token was revoked: its client${clientId ? ` ${quote(clientId)}` : ''} was revoked or deleted after it was issued`;
    case 'client_sub': return `the access token was revoked: its client${clientId ? ` ${quote(clientId)}` : ''} revoked too many of its tokens of this user (or service account) within a token lifetime, so those issued up to the last one it revoked were cut off (it refreshes to go on; the user's other apps are untouched)`;
    case 'grant': return 'the access token was revoked: its grant was revoked (by the user or an admin, or a reused refresh token or code ended it), or its app revoked too many of its tokens within a token lifetime (it refreshes to go on)';
    case 'token': return 'the access token was revoked';
    case 'kid': return 'the access token was revoked: the key that signed it was retired on purpose';
    default: return 'the access token was revoked';
  }
}

function quote(value: string): string {
  return `\`${value}\``;
}

/** `2026-12-01 14:02:11 UTC` for epoch seconds (a time past what Date holds stays a number). */
function utc(epochSeconds: number): string {
  const date = new Date(epochSeconds * 1000);
  return Number.isNaN(date.getTime()) ? `${epochSeconds} (epoch seconds)` : `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
