/**
 * Who may use the client credentials grant (RFC 6749 §4.4; MCP extension
 * `io.modelcontextprotocol/oauth-client-credentials`): only a service account, i.e. a confidential
 * client an administrator created and marked as one (management/service-accounts.ts). Applied by
 * the client metadata validator (client-metadata-policy.ts) each time any client is loaded, so
 * the stored metadata alone never decides:
 *
 * - `client_credentials` is in a client's `grant_types` exactly when it is a static client marked
 *   `gatehouse_service_account`, not `gatehouse_disabled`, authenticating with `private_key_jwt`
 *   (RFC 7523 §2.2) or a client secret (RFC 6749 §2.3.1), with at least one MCP scope in `scope`.
 *   Anything else loses the grant (a row edited in the database included), and the token
 *   endpoint answers `unauthorized_client` (token-exchange/answer-unauthorized-client.ts).
 * - A service account has no other grant: no user ever signs in through it, so it has no
 *   redirect URIs, no authorization code and no refresh token (RFC 6749 §4.4.3).
 * - Its `scope` is its ceiling: the provider refuses a request for more with `invalid_scope`
 *   (oidc-provider validateClientScope), and a request without `scope` gets all of it (RFC 6749
 *   §3.3 "pre-defined default value"; create-provider.ts).
 *
 * Dynamic Client Registration asking for `client_credentials` is refused with
 * `invalid_client_metadata` (RFC 7591 §3.2.2) in client-metadata-policy.ts; Client ID Metadata
 * Documents listing it just do not get it.
 */
import { MCP_SCOPES } from '../../../shared/mcp-scopes.ts';

/** Marks an administrator's static client as a service account (set by management only). */
export const SERVICE_ACCOUNT = 'gatehouse_service_account';
/** A service account an administrator disabled: it keeps its row but gets no token. */
export const SERVICE_DISABLED = 'gatehouse_disabled';
export const CLIENT_CREDENTIALS = 'client_credentials';
/** How a service account authenticates: private_key_jwt is the extension's RECOMMENDED method. */
export const SERVICE_AUTH_METHODS: readonly string[] = ['private_key_jwt', 'client_secret_basic'];
/**
 * What the provider accepts from a `client_secret_basic` client: the secret in the Authorization
 * header or, as the extension's own example sends it, in the body (oidc-provider client_auth.js).
 */
const SECRET_METHODS = ['client_secret_basic', 'client_secret_post'];

type Metadata = Record<string, unknown>;

/** The MCP scopes in a client's `scope`, in MCP_SCOPES order. */
export function serviceScopes(scope: unknown): string[] {
  const listed = new Set(typeof scope === 'string' ? scope.split(' ') : []);
  return MCP_SCOPES.filter((s) => listed.has(s));
}

function mayUseClientCredentials(metadata: Metadata, kind: unknown): boolean {
  const method = metadata.token_endpoint_auth_method;
  return kind === 'static'
    && metadata[SERVICE_ACCOUNT] === true
    && metadata[SERVICE_DISABLED] !== true
    && typeof method === 'string' && (method === 'private_key_jwt' || SECRET_METHODS.includes(method))
    && serviceScopes(metadata.scope).length > 0;
}

/** Gives a client `client_credentials` as its only grant, or takes it away (see above). */
export function applyClientCredentialsGrant(metadata: Metadata, kind: unknown): void {
  if (metadata[SERVICE_ACCOUNT] === true && kind === 'static') {
    // A fresh array either way: the provider's defaults array is shared by every client.
    metadata.grant_types = mayUseClientCredentials(metadata, kind) ? [CLIENT_CREDENTIALS] : [];
    metadata.response_types = [];
    metadata.redirect_uris = [];
    return;
  }
  const grantTypes = Array.isArray(metadata.grant_types) ? (metadata.grant_types as unknown[]) : undefined;
  if (grantTypes?.includes(CLIENT_CREDENTIALS)) metadata.grant_types = grantTypes.filter((g) => g !== CLIENT_CREDENTIALS);
}

/** Whether a registration request asks for the grant (refused: DCR clients never get it). */
export function asksForClientCredentials(metadata: Metadata): boolean {
  return Array.isArray(metadata.grant_types) && metadata.grant_types.includes(CLIENT_CREDENTIALS);
}
