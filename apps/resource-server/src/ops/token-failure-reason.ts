/**
 * A short, bounded metric label for why a bearer token was refused, taken from the error's class
 * and jose's cause (for the checks jose performs) or the verifier's fixed description (for the
 * checks it performs itself). Never the token's own values.
 */
import { errors } from 'jose';
import { RevocationsUnavailableError } from '../auth/follow-revocation-feed.ts';
import { InvalidAccessTokenError, KeySetUnavailableError } from '../auth/verify-access-token.ts';

const CLAIM_REASONS: Record<string, string> = {
  typ: 'not_access_token', aud: 'audience', iss: 'issuer', nbf: 'not_yet_valid', exp: 'expired',
};

const DESCRIPTION_REASONS: Array<[RegExp, string]> = [
  [/too large/, 'too_large'],
  [/header must not carry/, 'forbidden_header'],
  [/sender-constrained/, 'sender_constrained'],
  [/empty or not a string/, 'invalid_claims'],
  [/revoked/, 'revoked'],
  [/lifetime|iat is in the future/, 'lifetime'],
  [/malformed/, 'malformed'],
];

export function tokenFailureReason(err: unknown): string {
  if (err instanceof KeySetUnavailableError) return 'key_set_unavailable';
  if (err instanceof RevocationsUnavailableError) return 'revocations_unavailable';
  if (!(err instanceof InvalidAccessTokenError)) return 'other';
  const cause = err.cause;
  if (cause instanceof errors.JWTExpired) return 'expired';
  if (cause instanceof errors.JWTClaimValidationFailed) {
    return cause.reason === 'missing' ? 'missing_claim' : (CLAIM_REASONS[cause.claim] ?? 'invalid_claims');
  }
  if (cause instanceof errors.JOSEAlgNotAllowed) return 'algorithm';
  if (cause instanceof errors.JWSSignatureVerificationFailed) return 'signature';
  if (cause instanceof errors.JWKSNoMatchingKey) return 'unknown_key';
  return DESCRIPTION_REASONS.find(([pattern]) => pattern.test(err.message))?.[1] ?? 'malformed';
}
