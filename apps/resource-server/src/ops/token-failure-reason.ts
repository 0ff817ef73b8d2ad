/**
 * The metric label for why a presented bearer token was refused: the verifier's stable `reason`
 * (InvalidAccessTokenReason), or why the token could not be checked at all. A short, bounded
 * value, never the token's own values.
 */
import { RevocationsUnavailableError } from '../auth/follow-revocation-feed.ts';
import { InvalidAccessTokenError, KeySetUnavailableError, type InvalidAccessTokenReason } from '../auth/verify-access-token.ts';

export type TokenFailureReason = InvalidAccessTokenReason | 'key_set_unavailable' | 'revocations_unavailable' | 'other';

export function tokenFailureReason(err: unknown): TokenFailureReason {
  if (err instanceof InvalidAccessTokenError) return err.reason;
  if (err instanceof KeySetUnavailableError) return 'key_set_unavailable';
  if (err instanceof RevocationsUnavailableError) return 'revocations_unavailable';
  return 'other';
}
