/**
 * Why oidc-provider refused an authorization request (at /oauth/authorize, or on its return
 * from the sign-in and consent pages), in the words a connection event keeps.
 *
 * Matched on the provider's error classes and their fixed messages (lib/actions/authorization/,
 * lib/helpers/client_id_metadata_document.js, lib/shared/check_resource.js) and on the
 * descriptions our interaction pages finish with (interactions/); anything
 * else keeps the provider's description under `authorization_refused`.
 *
 * Deliberately not quoted: the state, the code challenge, the full query string.
 */
import type { ProviderError } from '../provider/provider-error.ts';
import { isMetadataDocumentClientId } from '../registration/client-metadata-policy.ts';
import { originAndPath } from './origin-and-path.ts';
import { quote, quoteList, type Refusal } from './refusal.ts';

export interface AuthorizationFacts {
  clientId?: string;
  /** The client's registered redirect URIs, when the client is known. */
  registeredRedirectUris?: readonly string[];
  redirectUri?: string;
  resource?: string;
  /** This server's MCP resource (`resource` in the config). */
  expectedResource: string;
  codeChallengeMethod?: string;
}

/** Decisions the sign-in and consent pages finish an interaction with (interactions/). */
const INTERACTION_REFUSALS: Record<string, { reasonCode: string; reason: string }> = {
  'the user denied the request': { reasonCode: 'consent_denied', reason: 'the user denied access' },
  'the account cannot be used': { reasonCode: 'account_not_active', reason: 'the account is disabled or waiting for approval' },
  'no permission was granted': { reasonCode: 'no_scope_granted', reason: 'the user could grant none of the scopes asked for' },
};

export function isClientDocumentRefusal(err: ProviderError, clientId: string | undefined): boolean {
  if (!isMetadataDocumentClientId(clientId)) return false;
  const description = err.error_description ?? '';
  return description.startsWith('client_id metadata document') || description === 'client is not allowed';
}

/**
 * Why a fetch failed, from the error's causes: undici's "fetch failed" says nothing, its cause
 * does ("getaddrinfo ENOTFOUND host", our address guard's refusal). Messages only, at most three.
 */
function fetchFailure(err: ProviderError): string | undefined {
  const messages: string[] = [];
  for (let cause: unknown = err.cause, depth = 0; cause instanceof Error && depth < 3; cause = cause.cause, depth += 1) {
    if (cause.message && !messages.includes(cause.message)) messages.push(cause.message);
  }
  return messages.length ? messages.join(': ') : err.error_detail;
}

/** Why a Client ID Metadata Document was not used (the client_id is the document's URL). */
export function explainClientDocumentRefusal(err: ProviderError, clientId: string): Refusal {
  const document = quote(originAndPath(clientId));
  const description = err.error_description ?? '';
  const failure = description === 'client_id metadata document fetch failed' ? fetchFailure(err) : undefined;
  const why = description === 'client is not allowed' || description === 'client_id metadata document fetch not allowed'
    ? `this server does not fetch client documents from ${quote(URL.parse(clientId)?.host)} (not a trusted host, or a private address)`
    : description === 'client_id metadata document fetch failed'
      ? `it could not be fetched${failure ? ` (${failure})` : ''}`
      : description.replace(/^client_id metadata document /, 'it ');
  return { error: err.error, reasonCode: 'client_document_refused', reason: `the client metadata document ${document} was refused: ${why}` };
}

export function explainAuthorizationRefusal(err: ProviderError, facts: AuthorizationFacts): Refusal {
  const error = err.error ?? 'server_error';
  const description = err.error_description ?? '';
  const interactionRefusal = error === 'access_denied' ? INTERACTION_REFUSALS[description] : undefined;
  if (interactionRefusal) return { error, ...interactionRefusal };
  if (facts.clientId && isClientDocumentRefusal(err, facts.clientId)) return explainClientDocumentRefusal(err, facts.clientId);
  switch (error) {
    case 'invalid_client':
      return {
        error,
        reasonCode: 'unknown_client',
        reason: `client ${quote(facts.clientId)} is unknown — it registered on another server, or before a reset? It must register again`,
      };
    case 'invalid_redirect_uri': {
      const registered = facts.registeredRedirectUris?.length ? ` (it registered ${quoteList(facts.registeredRedirectUris.map(originAndPath))})` : '';
      return {
        error,
        reasonCode: 'redirect_uri_not_allowed',
        reason: `redirect_uri ${quote(originAndPath(facts.redirectUri))} is not one this client registered${registered}`,
      };
    }
    case 'invalid_target':
      return {
        error,
        reasonCode: 'resource_mismatch',
        reason: `resource ${quote(originAndPath(facts.resource))} does not match ${quote(facts.expectedResource)}`,
      };
    case 'invalid_scope':
      return {
        error,
        reasonCode: 'invalid_scope',
        reason: err.scope ? `scope ${quoteList(err.scope.split(' '))} is not one this server offers` : description,
      };
    case 'invalid_request':
      if (/PKCE|code_challenge/.test(description)) {
        return {
          error,
          reasonCode: 'pkce_missing',
          reason: facts.codeChallengeMethod && facts.codeChallengeMethod !== 'S256'
            ? `code_challenge_method ${quote(facts.codeChallengeMethod)} is not supported: PKCE with S256 is required`
            : 'the request has no PKCE code_challenge: PKCE with S256 is required',
        };
      }
      return { error, reasonCode: 'authorization_refused', reason: description };
    default:
      return { error, reasonCode: error === 'access_denied' ? 'access_denied' : 'authorization_refused', reason: description || error };
  }
}
