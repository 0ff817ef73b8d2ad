/**
 * What the authorization server metadata promises clients, read as Claude and the MCP SDKs read it:
 *
 * - `pkce`: `code_challenge_methods_supported` lists `S256`; MCP clients must refuse to go on
 *   without it (MCP 2025-11-25 authorization, Authorization Code Protection).
 * - `cimd`: `client_id_metadata_document_supported` together with `none` among
 *   `token_endpoint_auth_methods_supported`: only then does Claude use its Client ID Metadata
 *   Document instead of registering a new client on every connect. `none` is needed anyway by
 *   public clients (Claude Code, MCP Inspector) that register by DCR.
 * - `refresh`: `grant_types_supported` lists `refresh_token`, so a client keeps its connection past
 *   the first access token. RFC 8414 §2: when absent, the default is authorization_code and implicit.
 * - `token-lifetime`: the access token lifetime is in no metadata document and no registration
 *   response: not checkable from outside, reported as not checked.
 */
import { fail, ok, skip, warn, type CheckResult } from './doctor-check.ts';

const list = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

export function checkAdvertisedCapabilities(metadata: Record<string, unknown>): CheckResult[] {
  return [checkPkce(metadata), checkCimd(metadata), checkRefresh(metadata), tokenLifetime()];
}

function checkPkce(metadata: Record<string, unknown>): CheckResult {
  const methods = list(metadata.code_challenge_methods_supported);
  if (methods.includes('S256')) return ok('pkce', 'PKCE with S256 is advertised', `code_challenge_methods_supported: ${methods.join(', ')}`);
  return fail('pkce', 'PKCE S256 is not advertised', `code_challenge_methods_supported: ${methods.join(', ') || '(absent)'}`,
    'MCP clients refuse to sign in unless the metadata lists S256 in code_challenge_methods_supported: enable PKCE S256 on the authorization server.');
}

function checkCimd(metadata: Record<string, unknown>): CheckResult {
  const methods = list(metadata.token_endpoint_auth_methods_supported);
  const cimd = metadata.client_id_metadata_document_supported === true;
  const none = methods.includes('none');
  const detail = `client_id_metadata_document_supported: ${String(metadata.client_id_metadata_document_supported ?? '(absent)')}; token_endpoint_auth_methods_supported: ${methods.join(', ') || '(absent)'}`;
  if (cimd && none) return ok('cimd', 'Client ID Metadata Documents advertised, with the public-client method none', detail);
  if (!none) {
    return fail('cimd', 'public clients (token_endpoint_auth_method none) are not supported', detail,
      'Claude Code, MCP Inspector and Claude\'s metadata document are public clients: allow token_endpoint_auth_method none (with PKCE).');
  }
  return warn('cimd', 'Client ID Metadata Documents are not advertised', detail,
    'Clients fall back to registering a new client on every connect (DCR). Advertise client_id_metadata_document_supported: true so Claude can use its metadata document.');
}

function checkRefresh(metadata: Record<string, unknown>): CheckResult {
  const grants = metadata.grant_types_supported === undefined ? ['authorization_code', 'implicit'] : list(metadata.grant_types_supported);
  const detail = `grant_types_supported: ${metadata.grant_types_supported === undefined ? '(absent: RFC 8414 default authorization_code, implicit)' : grants.join(', ')}`;
  if (grants.includes('refresh_token')) return ok('refresh', 'refresh tokens are offered', detail);
  return warn('refresh', 'refresh tokens are not offered', detail,
    'Without refresh tokens, users must sign in again each time an access token expires: allow the refresh_token grant.');
}

function tokenLifetime(): CheckResult {
  return skip('token-lifetime', 'not checked: the access token lifetime is not published anywhere a client can read it',
    'On Gatehouse it is auth_server.token_lifetime (default 1h); keep it short, as JWT access tokens cannot be recalled before they expire.');
}
