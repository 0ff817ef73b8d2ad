/**
 * Registration policy for Dynamic Client Registration (RFC 7591), applied through oidc-provider's
 * synchronous `extraClientMetadata.validator`, which runs before the provider's own validation.
 *
 * For Client ID Metadata Document clients (client_id is an https URL), each time the document is
 * turned into a client: token endpoint auth `none` (the default when absent) or `private_key_jwt`
 * with the document's `jwks`/`jwks_uri` (RFC 7523 §2.2; the draft forbids shared secrets), redirect
 * URIs checked for safety but not against the DCR allow-list (trust comes from the document's
 * host), the same `scope` and `native` handling as below, and `sector_identifier_uri` dropped
 * as below (the provider would fetch it from a URL the document's author chose).
 *
 * A client may list the auth methods it can use in `token_endpoint_auth_methods_supported`
 * (OpenID Connect RP Metadata Choices 1.0; ChatGPT's document lists `none` and `private_key_jwt`).
 * The list is narrowed here to what the client's kind may use, and a declared method outside that
 * is dropped, so the provider's choice (the declared method, else the first listed) lands on one
 * we accept; a list with nothing we accept is refused with `invalid_client_metadata`.
 *
 * A stored DCR client with a redirect URI of a dangerous scheme (registered before such schemes
 * were refused) no longer loads: the provider answers invalid_client_metadata and redirects nowhere.
 *
 * On the registration endpoint only (stored clients are loaded unchanged otherwise):
 * - `scope` is dropped: a client's DCR `scope` is what it asked for first, not a ceiling, and
 *   unknown values (Claude has sent `claudeai`) must not fail the registration. What a token
 *   carries is decided at authorization, capped by what the user may grant.
 * - every redirect URI must pass the redirect URI policy (error `invalid_redirect_uri`);
 * - a client with loopback or private-use redirect URIs is registered as `native`
 *   (RFC 8252), so loopback URIs match on any port.
 * - `gatehouse_client_kind` is set to `dcr` whatever the client sent, and
 *   `gatehouse_resource_server` and `gatehouse_upstream_audiences` are dropped: only an
 *   administrator makes a client a resource server (client-registry.ts), since that lets it
 *   introspect other clients' tokens and exchange them for identity tokens.
 * - Metadata for features Gatehouse does not offer is dropped, in particular anything the provider
 *   would fetch (`sector_identifier_uri`, `jwks_uri`) or trust later (`jwks`, `request_uris`).
 *
 * On both (documents and registrations): a `*_alg`/`*_enc` member that is not a string is refused
 * with `invalid_client_metadata` before the provider's schema, which would crash on it (500), and
 * so is a `client_name` the pages could not show as it is stored (check-client-name.ts). Stored
 * registrations load with the name they have.
 *
 * On every client, each time it is loaded: the token exchange grant (RFC 8693) is in its
 * `grant_types` exactly when it is a confidential static client marked as a resource server, so a
 * client can neither register for it nor keep it after losing the mark; clients marked before the
 * grant existed get it without being edited. Likewise the client credentials grant, for service
 * accounts only (service-account-policy.ts); a registration asking for it is refused.
 */
import { errors } from 'oidc-provider';
import { checkClientName } from './check-client-name.ts';
import { nonStringAlgorithmField } from './non-string-algorithm-field.ts';
import { checkRedirectUri, type RedirectUriPolicy } from './redirect-uri-policy.ts';
import { isDangerousScheme } from '../../../shared/dangerous-schemes.ts';
import { TOKEN_EXCHANGE_GRANT_TYPE } from '../token-exchange/token-exchange-grant-type.ts';
import { applyClientCredentialsGrant, asksForClientCredentials, SERVICE_ACCOUNT, SERVICE_DISABLED } from './service-account-policy.ts';

export const CLIENT_KIND = 'gatehouse_client_kind';
/** The resource URL an admin-created confidential client serves (RFC 7662 §4: it may introspect tokens for it). */
export const RESOURCE_SERVER_FOR = 'gatehouse_resource_server';
/**
 * The upstream URLs a resource server may obtain identity tokens for (RFC 8693 token exchange,
 * RFC 8707 `resource`), compared as exact strings. Set by an administrator only.
 */
export const UPSTREAM_AUDIENCES = 'gatehouse_upstream_audiences';
/** Most upstream audiences one client may list. */
export const MAX_UPSTREAM_AUDIENCES = 100;

/** What a client metadata document may authenticate with at the token endpoint. */
const DOCUMENT_AUTH_METHODS: ReadonlySet<string> = new Set(['none', 'private_key_jwt']);
/** What a registered client may (it cannot register keys: `jwks`/`jwks_uri` are dropped). */
const REGISTRATION_AUTH_METHODS: ReadonlySet<string> = new Set(['none', 'client_secret_post', 'client_secret_basic']);
const AUTH_METHOD_CHOICES = 'token_endpoint_auth_methods_supported';

/** Only a private_key_jwt client signs assertions; on any other the provider would refuse the field. */
const ASSERTION_SIGNING_METADATA = ['token_endpoint_auth_signing_alg', 'token_endpoint_auth_signing_alg_values_supported'];

const UNOFFERED_METADATA = [
  'sector_identifier_uri', 'jwks_uri', 'jwks', 'request_uris', 'backchannel_logout_uri',
  'backchannel_logout_session_required', 'post_logout_redirect_uris', 'initiate_login_uri',
  ...ASSERTION_SIGNING_METADATA,
];

type Metadata = Record<string, unknown>;

function invalidRedirectUri(description: string): Error {
  const error = new errors.InvalidRedirectUri();
  error.error_description = description;
  return error;
}

function invalidMetadata(description: string): Error {
  return new errors.InvalidClientMetadata(description);
}

/**
 * Whether the provider takes `clientId` for a Client ID Metadata Document's URL, so its client
 * gets the rules for documents. The provider's own test (isValidClientIdUrl, `/^https:\/\//iu`)
 * reads the scheme in any case, and so must this: a case-sensitive test let a document whose id
 * was written `HTTPS://…` past every rule here, and its own gatehouse_* fields made it a service
 * account that took client_credentials tokens with mcp:admin.
 */
export function isMetadataDocumentClientId(clientId: unknown): clientId is string {
  return typeof clientId === 'string' && /^https:\/\//i.test(clientId);
}

/**
 * Narrows `token_endpoint_auth_methods_supported` to `accepted` and drops a declared method
 * outside it, so the provider's choice is one we accept. Without a list, a declared method outside
 * `accepted` is refused.
 */
function narrowAuthMethods(metadata: Metadata, accepted: ReadonlySet<string>, what: string): void {
  const listed = metadata[AUTH_METHOD_CHOICES];
  const names = [...accepted].join(', ');
  if (listed === undefined) {
    const declared = metadata.token_endpoint_auth_method;
    if (declared !== undefined && !accepted.has(declared as string)) {
      throw invalidMetadata(`${what} must use token_endpoint_auth_method ${names}`);
    }
    return;
  }
  if (!Array.isArray(listed) || !listed.every((m) => typeof m === 'string')) {
    throw invalidMetadata(`${AUTH_METHOD_CHOICES} must be an array of strings`);
  }
  const usable = listed.filter((m) => accepted.has(m));
  if (usable.length === 0) throw invalidMetadata(`${AUTH_METHOD_CHOICES} lists none of ${names}`);
  metadata[AUTH_METHOD_CHOICES] = usable;
  if (!accepted.has(metadata.token_endpoint_auth_method as string)) delete metadata.token_endpoint_auth_method;
}

function applyRedirectUriPolicy(metadata: Metadata, policy: RedirectUriPolicy): void {
  const redirectUris = metadata.redirect_uris;
  if (!Array.isArray(redirectUris) || redirectUris.length === 0) {
    throw invalidRedirectUri('redirect_uris must contain at least one URI');
  }
  if (redirectUris.length > 20) throw invalidRedirectUri('at most 20 redirect_uris may be registered');
  let native = false;
  for (const uri of redirectUris) {
    const verdict = checkRedirectUri(uri as string, policy);
    if (!verdict.ok) throw invalidRedirectUri(verdict.reason);
    native ||= verdict.native;
  }
  if (native) metadata.application_type = 'native';
}

function refuseDangerousSchemes(redirectUris: unknown): void {
  for (const uri of Array.isArray(redirectUris) ? redirectUris : []) {
    const scheme = typeof uri === 'string' ? URL.parse(uri)?.protocol.slice(0, -1) : undefined;
    if (scheme && isDangerousScheme(scheme) && scheme !== 'http' && scheme !== 'https') {
      throw invalidRedirectUri(`the ${scheme}: scheme is never allowed in redirect_uris`);
    }
  }
}

function checkUpstreamAudiences(value: unknown): void {
  if (value === undefined) return;
  if (!Array.isArray(value) || value.length > MAX_UPSTREAM_AUDIENCES || !value.every((v) => typeof v === 'string')) {
    throw invalidMetadata(`${UPSTREAM_AUDIENCES} must be an array of at most ${MAX_UPSTREAM_AUDIENCES} URL strings`);
  }
}

/** Grants the token exchange grant to confidential static resource servers, and takes it from everyone else. */
function applyTokenExchangeGrant(metadata: Metadata): void {
  const grantTypes = Array.isArray(metadata.grant_types) ? (metadata.grant_types as unknown[]) : undefined;
  const others = grantTypes?.filter((g) => g !== TOKEN_EXCHANGE_GRANT_TYPE);
  const exchanges = metadata[CLIENT_KIND] === 'static'
    && typeof metadata[RESOURCE_SERVER_FOR] === 'string'
    && metadata.token_endpoint_auth_method !== 'none';
  if (exchanges) {
    // A fresh array: the provider's defaults array is shared by every client without grant_types.
    metadata.grant_types = [...(others ?? ['authorization_code']), TOKEN_EXCHANGE_GRANT_TYPE];
  } else if (others && others.length !== grantTypes!.length) {
    metadata.grant_types = others;
  }
}

export function createClientMetadataValidator(policy: RedirectUriPolicy) {
  const documentPolicy: RedirectUriPolicy = { ...policy, anyHttps: true };
  return function validateClientMetadata(ctx: unknown, key: string, value: unknown, metadata: Metadata): void {
    if (key === RESOURCE_SERVER_FOR) {
      if (metadata[key] !== undefined && typeof metadata[key] !== 'string') throw invalidMetadata(`${key} must be a URL string`);
      return;
    }
    if (key === UPSTREAM_AUDIENCES) {
      checkUpstreamAudiences(value);
      return;
    }
    if (key === SERVICE_ACCOUNT || key === SERVICE_DISABLED) {
      if (value !== undefined && typeof value !== 'boolean') throw invalidMetadata(`${key} must be a boolean`);
      return;
    }
    if (key !== CLIENT_KIND) return;
    settleClientKind(ctx, metadata, policy, documentPolicy);
    applyTokenExchangeGrant(metadata);
    applyClientCredentialsGrant(metadata, metadata[CLIENT_KIND]);
  };
}

function settleClientKind(ctx: unknown, metadata: Metadata, policy: RedirectUriPolicy, documentPolicy: RedirectUriPolicy): void {
  const malformed = nonStringAlgorithmField(metadata);
  if (malformed) throw invalidMetadata(`${malformed} must be a string`);
  const route = (ctx as { oidc?: { route?: string } } | undefined)?.oidc?.route;
  const document = isMetadataDocumentClientId(metadata.client_id);
  const nameProblem = document || route === 'registration' ? checkClientName(metadata.client_name) : undefined;
  if (nameProblem) throw invalidMetadata(nameProblem);
  if (document) {
    metadata[CLIENT_KIND] = 'cimd';
    delete metadata[RESOURCE_SERVER_FOR];
    delete metadata[UPSTREAM_AUDIENCES];
    delete metadata[SERVICE_ACCOUNT];
    delete metadata.scope;
    // No pairwise subjects here, so the URI means nothing, yet the provider would fetch it while
    // building the client, before any other check: dropped (not refused) as for DCR, so that a
    // document written for servers that do offer pairwise subjects still works here.
    delete metadata.sector_identifier_uri;
    narrowAuthMethods(metadata, DOCUMENT_AUTH_METHODS, 'client ID metadata documents');
    if (metadata[AUTH_METHOD_CHOICES] === undefined) metadata.token_endpoint_auth_method ??= 'none';
    // The provider's choice: the declared method, else the first listed (all listed are ours now).
    const method = metadata.token_endpoint_auth_method ?? (metadata[AUTH_METHOD_CHOICES] as string[])[0];
    if (method !== 'private_key_jwt') for (const field of ASSERTION_SIGNING_METADATA) delete metadata[field];
    applyRedirectUriPolicy(metadata, documentPolicy);
    return;
  }
  if (route !== 'registration') {
    if (metadata[CLIENT_KIND] === 'dcr') refuseDangerousSchemes(metadata.redirect_uris);
    return;
  }

  // RFC 6749 §4.4 / MCP oauth-client-credentials: only pre-registered (admin-created) clients.
  if (asksForClientCredentials(metadata)) {
    throw invalidMetadata('the client_credentials grant is only for service accounts an administrator creates');
  }
  metadata[CLIENT_KIND] = 'dcr';
  delete metadata[RESOURCE_SERVER_FOR];
  delete metadata[UPSTREAM_AUDIENCES];
  delete metadata[SERVICE_ACCOUNT];
  delete metadata.scope;
  for (const unused of UNOFFERED_METADATA) delete metadata[unused];
  narrowAuthMethods(metadata, REGISTRATION_AUTH_METHODS, 'registered clients');
  applyRedirectUriPolicy(metadata, policy);
}
