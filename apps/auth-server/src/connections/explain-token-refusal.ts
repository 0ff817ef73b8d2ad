/**
 * Why the token endpoint refused a code exchange or a refresh, in the words a connection event
 * keeps. Matched on oidc-provider's `error_detail`s (lib/helpers/grant_source.js, pkce.js,
 * lib/actions/grants/authorization_code.js and refresh_token.js, lib/shared/client_auth.js), which
 * the client never sees; anything else keeps the provider's description.
 *
 * Deliberately never quoted: the code, the refresh token, the verifier, a client secret or
 * assertion. Only the client id, the redirect_uri (origin + path), resources and scopes.
 */
import { CODE_REPLAYED_DETAIL, REFRESH_TOKEN_REUSED_DETAIL, type ProviderError } from '../provider/provider-error.ts';
import { originAndPath } from './origin-and-path.ts';
import { quote, quoteList, type Refusal } from './refusal.ts';

export interface TokenFacts {
  clientId?: string;
  redirectUri?: string;
  resource?: string;
  /** This server's MCP resource (`resource` in the config). */
  expectedResource: string;
}

type Explain = (facts: TokenFacts) => { reasonCode: string; reason: string };

/** By `error_detail` of an `invalid_grant`. */
const GRANT_REFUSALS: Record<string, Explain> = {
  [CODE_REPLAYED_DETAIL]: () => ({ reasonCode: 'code_replayed', reason: 'authorization code already used — the grant was revoked' }),
  'code_verifier does not match code_challenge': () => ({ reasonCode: 'pkce_mismatch', reason: 'PKCE verifier does not match the challenge' }),
  'code_verifier must be provided': () => ({ reasonCode: 'pkce_mismatch', reason: 'no PKCE code_verifier was sent, but the authorization request had a code_challenge' }),
  'authorization code redirect_uri mismatch': ({ redirectUri }) => ({
    reasonCode: 'redirect_uri_mismatch',
    reason: `redirect_uri ${quote(originAndPath(redirectUri))} is not the one the authorization code was issued for`,
  }),
  'authorization code is expired': () => ({ reasonCode: 'code_expired', reason: 'the authorization code expired (it lasts 60 seconds) before the client redeemed it' }),
  'authorization code not found': () => ({ reasonCode: 'code_invalid', reason: 'authorization code unknown — issued by another server, or expired and removed' }),
  [REFRESH_TOKEN_REUSED_DETAIL]: () => ({ reasonCode: 'refresh_token_reused', reason: 'refresh token already used — the grant was revoked (a client that lost the rotated token, or a stolen one)' }),
  'refresh token not found': () => ({ reasonCode: 'refresh_token_invalid', reason: 'refresh token unknown — revoked, expired and removed, or issued by another server' }),
  'refresh token is expired': () => ({ reasonCode: 'refresh_token_invalid', reason: 'refresh token expired: the user must connect again' }),
  'grant not found': () => ({ reasonCode: 'grant_revoked', reason: 'the grant was revoked: the user must connect again' }),
  'grant is expired': () => ({ reasonCode: 'grant_revoked', reason: 'the grant expired: the user must connect again' }),
  'client mismatch': ({ clientId }) => ({ reasonCode: 'client_mismatch', reason: `the code or refresh token was issued to another client than ${quote(clientId)}` }),
  'authorization code invalid (referenced account not found)': () => ({ reasonCode: 'account_not_active', reason: 'the account is disabled, waiting for approval or deleted' }),
  'refresh token invalid (referenced account not found)': () => ({ reasonCode: 'account_not_active', reason: 'the account is disabled, waiting for approval or deleted' }),
};

export function explainTokenRefusal(err: ProviderError, facts: TokenFacts): Refusal {
  const error = err.error ?? 'server_error';
  const detail = err.error_detail ?? '';
  switch (error) {
    case 'invalid_grant': {
      const explained = GRANT_REFUSALS[detail]?.(facts);
      return { error, ...(explained ?? { reasonCode: 'grant_refused', reason: detail || (err.error_description ?? error) }) };
    }
    case 'invalid_client':
      return detail === 'client not found'
        ? { error, reasonCode: 'unknown_client', reason: `client ${quote(facts.clientId)} is unknown — it registered on another server, or before a reset? It must register again` }
        : { error, reasonCode: 'client_auth_failed', reason: `client ${quote(facts.clientId)} failed to authenticate${detail ? `: ${detail}` : ''}` };
    case 'invalid_target':
      return { error, ...resourceMismatch(facts) };
    case 'invalid_scope':
      return { error, reasonCode: 'invalid_scope', reason: err.scope ? `scope ${quoteList(err.scope.split(' '))} was not granted` : (err.error_description ?? error) };
    default:
      return { error, reasonCode: error === 'unauthorized_client' ? 'unauthorized_client' : 'token_refused', reason: err.error_description ?? error };
  }
}

export function resourceMismatch(facts: Pick<TokenFacts, 'resource' | 'expectedResource'>): { reasonCode: string; reason: string } {
  return { reasonCode: 'resource_mismatch', reason: `resource ${quote(originAndPath(facts.resource))} does not match ${quote(facts.expectedResource)}` };
}
