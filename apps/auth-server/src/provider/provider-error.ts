/**
 * What oidc-provider's error events hand a listener (lib/helpers/errors.js): the RFC error code
 * as `error`, the description the client is sent, and `error_detail`, which only the server sees
 * ("authorization code already consumed", "PKCE verification failed" as the cause's message, …).
 */
export interface ProviderError extends Error {
  error?: string;
  error_description?: string;
  error_detail?: string;
  /** Set by InvalidScope: the scopes refused. */
  scope?: string;
}

/**
 * The details of the two refusals after which the provider has revoked the whole grant
 * (lib/helpers/grant_source.js, lib/actions/grants/refresh_token.js): a replayed code or a
 * reused refresh token, the signs of a stolen or replayed credential.
 */
export const CODE_REPLAYED_DETAIL = 'authorization code already consumed';
export const REFRESH_TOKEN_REUSED_DETAIL = 'refresh token already used';
