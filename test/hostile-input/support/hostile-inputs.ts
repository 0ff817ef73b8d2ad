/**
 * Deterministic hostile HTTP requests for the fuzz test: one seed gives the same list every time,
 * so a failure replays with FUZZ_SEED=<seed>.
 */
import type { RawRequest } from '../../helpers/raw-http.ts';

/** mulberry32: small, fast, good enough to spread inputs; not for anything secret. */
export function createRandom(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
export type Random = ReturnType<typeof createRandom>;

/** What the fuzzer knows about the running servers, to get past the first checks. */
export interface Known {
  clientId: string;
  interactionUid: string;
  interactionCookie: string;
  accessToken: string;
  mcpSessionId: string;
  /** A signed-in admin's cookies and the CSRF token of the admin forms. */
  adminCookie: string;
  adminCsrf: string;
}

/** Mostly the methods endpoints serve, so most requests get past routing; the rest to test 405s. */
export const METHODS = ['GET', 'GET', 'GET', 'GET', 'POST', 'POST', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'BREW'];

const OAUTH_PARAMS = [
  'client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'resource',
  'prompt', 'nonce', 'response_mode', 'request', 'request_uri', 'max_age', 'claims', 'login_hint', 'ui_locales', 'acr_values',
  'grant_type', 'code', 'code_verifier', 'refresh_token', 'token', 'token_type_hint', 'access_token', 'client_secret',
  'client_assertion', 'client_assertion_type', 'iss', 'error', 'username', 'password', 'csrf', 'decision', 'scopes',
  'id', 'kid', 'uri', 'host', '__proto__', 'constructor', 'a[]', 'a[b]', '',
];

/** Values that break naive parsing, as strings (already decoded). */
function hostileString(random: Random, known: Known): string {
  return random.pick([
    '', ' ', 'x', known.clientId, known.interactionUid, 'http://127.0.0.1:5555/callback', 'https://claude.ai/api/mcp/auth_callback',
    'https://evil.example/cb', 'javascript:alert(1)', 'urn:ietf:params:oauth:grant-type:device_code', 'authorization_code',
    'refresh_token', 'client_credentials', 'code', 'code id_token', 'token', 'none', 'S256', 'plain', 'openid mcp:read offline_access',
    'mcp:admin mcp:admin', 'login consent', 'form_post', 'query.jwt', 'web_message', 'http://localhost:4001/mcp',
    'http://localhost:4001/mcp/', 'e30.e30.', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', '{"userinfo":{"email":null}}', '{',
    '[]', 'null', 'true', '1e400', '-1', '-0', '99999999999999999999999999', 'NaN', '%', '%zz', '\u0000', '\r\nX-Injected: 1',
    'é漢字🔥', '\ud800', '<script>alert(1)</script>', "' OR 1=1 --", '../../etc/passwd', 'a'.repeat(5000),
  ]);
}

function hostileJson(random: Random, known: Known, depth = 0): unknown {
  switch (random.int(depth > 2 ? 6 : 10)) {
    case 0: return hostileString(random, known);
    case 1: return random.pick([0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 31]);
    case 2: return random.pick([true, false, null]);
    case 3: return [];
    case 4: return {};
    case 5: return { toString: 1, valueOf: 1 };
    case 6: return [hostileJson(random, known, depth + 1), hostileJson(random, known, depth + 1)];
    case 7: return { [random.pick(OAUTH_PARAMS)]: hostileJson(random, known, depth + 1) };
    case 8: return [hostileString(random, known)];
    default: return JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}');
  }
}

/** Percent-encodes a string for a query or form, sometimes leaving broken escapes in on purpose. */
function encode(random: Random, value: string): string {
  if (random.chance(0.1)) return value.replace(/[^\x21-\x7e]/g, '_'); // raw, e.g. a lone % stays
  return encodeURIComponent(value.replace(/[\ud800-\udfff]/g, '\ufffd'));
}

function hostileParams(random: Random, known: Known): string {
  const pairs: string[] = [];
  for (let i = random.int(7); i > 0; i--) {
    const name = random.pick(OAUTH_PARAMS);
    const value = hostileString(random, known);
    pairs.push(`${encode(random, name)}=${encode(random, value)}`);
    if (random.chance(0.2)) pairs.push(`${encode(random, name)}=${encode(random, hostileString(random, known))}`); // repeated
  }
  if (random.chance(0.1)) pairs.push('noequals', '=', '&&');
  return pairs.join('&');
}

const ADMIN_FIELDS = ['username', 'password', 'scope', 'client_id', 'client_name', 'redirect_uris', 'token_endpoint_auth_method', 'uri', 'host', 'kid', 'grant_id', 'confirm'];

/** An admin or account form with the real CSRF token, so the handlers behind the check run. */
function adminForm(random: Random, known: Known): string {
  const pairs = [`csrf=${random.chance(0.9) ? known.adminCsrf : 'x'}`];
  for (let i = 1 + random.int(4); i > 0; i--) {
    const name = random.pick(ADMIN_FIELDS);
    pairs.push(`${name}=${encode(random, random.chance(0.3) ? random.pick(['mcp:read', 'mcp:admin', 'yes', 'none', 'example.com', 'http://127.0.0.1:1/cb']) : hostileString(random, known))}`);
  }
  return pairs.join('&');
}

function deepNesting(random: Random): string {
  const depth = random.pick([100, 1000, 5000]);
  return random.chance(0.5) ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

const DCR_FIELDS = [
  'redirect_uris', 'client_name', 'token_endpoint_auth_method', 'grant_types', 'response_types', 'scope', 'client_uri', 'logo_uri',
  'tos_uri', 'policy_uri', 'contacts', 'jwks', 'jwks_uri', 'software_id', 'software_version', 'software_statement', 'application_type',
  'sector_identifier_uri', 'subject_type', 'id_token_signed_response_alg', 'id_token_encrypted_response_alg', 'id_token_encrypted_response_enc',
  'userinfo_signed_response_alg', 'request_object_signing_alg', 'token_endpoint_auth_signing_alg', 'default_max_age', 'require_auth_time',
  'default_acr_values', 'initiate_login_uri', 'request_uris', 'post_logout_redirect_uris', 'client_id', 'client_secret',
  'client_secret_expires_at', 'introspection_signed_response_alg', 'authorization_signed_response_alg', 'tls_client_certificate_bound_access_tokens',
  'dpop_bound_access_tokens', 'require_pushed_authorization_requests', 'backchannel_logout_uri', 'gatehouse_client_kind', 'client_id_issued_at',
];

/** A registration body that is right except for one field. */
export function registrationWithOneBadField(random: Random, known: Known, field: string): Record<string, unknown> {
  return {
    redirect_uris: ['http://127.0.0.1:5555/callback'],
    token_endpoint_auth_method: 'none',
    [field]: hostileJson(random, known),
  };
}
export { DCR_FIELDS };

function jsonRpcBody(random: Random, known: Known): unknown {
  const message = () => ({
    jsonrpc: random.pick(['2.0', '1.0', 2, null]),
    id: random.pick([1, 'x', null, {}, [], 1e308, -0]),
    method: random.pick(['initialize', 'tools/list', 'tools/call', 'resources/list', 'resources/read', 'prompts/get', 'notifications/initialized', 'ping', '', 'x/y', '__proto__']),
    params: random.chance(0.5)
      ? { name: random.pick(['whoami', 'create_note', 'list_notes', 'x', '']), arguments: hostileJson(random, known), protocolVersion: hostileString(random, known) }
      : hostileJson(random, known),
  });
  return random.chance(0.15) ? [message(), message()] : message();
}

function hostileBody(random: Random, known: Known, path: string): { body: string | Buffer; contentType?: string } {
  if (/^\/(admin|account)/i.test(path) && random.chance(0.6)) return { body: adminForm(random, known), contentType: 'application/x-www-form-urlencoded' };
  if (/^\/mcp/i.test(path) && random.chance(0.6)) return { body: JSON.stringify(jsonRpcBody(random, known)), contentType: 'application/json' };
  switch (random.int(8)) {
    case 0: return { body: JSON.stringify(path.startsWith('/mcp') ? jsonRpcBody(random, known) : registrationWithOneBadField(random, known, random.pick(DCR_FIELDS))), contentType: 'application/json' };
    case 1: return { body: JSON.stringify(hostileJson(random, known)), contentType: random.pick(['application/json', 'application/json; charset=utf-16', 'text/json']) };
    case 2: return { body: hostileParams(random, known), contentType: random.pick(['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=latin1']) };
    case 3: return { body: deepNesting(random), contentType: 'application/json' };
    case 4: return { body: Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0xed, 0xa0, 0x80]), contentType: random.pick(['application/json', 'application/x-www-form-urlencoded', undefined]) };
    case 5: return { body: '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--', contentType: 'multipart/form-data; boundary=b' };
    case 6: return { body: JSON.stringify(jsonRpcBody(random, known)), contentType: random.pick(['application/json', 'text/plain', 'application/xml', 'garbage']) };
    default: return { body: '', contentType: random.pick(['application/json', 'application/x-www-form-urlencoded', undefined]) };
  }
}

function hostileHeaders(random: Random, known: Known, path: string): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  if (random.chance(0.15)) headers.host = random.pick(['evil.example', 'a:b:c', '[::1]:1', 'localhost:99999', '127.0.0.1', '%zz', 'x'.repeat(300)]);
  const mcp = /^\/mcp/i.test(path);
  if (random.chance(mcp ? 0.1 : 0.3)) headers.origin = random.pick(['http://localhost:6274', 'https://evil.example', 'null', '', 'file://', 'http://[::1', 'https://claude.ai']);
  if (mcp && random.chance(0.7)) {
    headers.authorization = `Bearer ${known.accessToken}`;
  } else if (random.chance(0.3)) {
    headers.authorization = random.pick([
      `Bearer ${known.accessToken}`, `Bearer ${known.accessToken}`, 'Bearer', 'Bearer  ', 'Bearer e30.e30.', `Bearer ${known.accessToken.slice(0, -4)}AAAA`,
      'Basic', 'Basic !!!', `Basic ${Buffer.from(':').toString('base64')}`, `Basic ${Buffer.from(`${known.clientId}:x`).toString('base64')}`,
      `Basic ${Buffer.from('%zz:%').toString('base64')}`, 'DPoP x', 'Negotiate abc', 'Bearer a b c',
    ]);
  }
  if (/^\/(admin|account)/i.test(path) && random.chance(0.7)) {
    headers.cookie = known.adminCookie;
  } else if (random.chance(0.3)) {
    headers.cookie = random.pick([known.interactionCookie, known.interactionCookie, 'gatehouse.csrf=x', '_interaction=x; _interaction.sig=y', '=;;=', 'a=%zz', `_session=${'a'.repeat(4000)}`]);
  }
  if (random.chance(0.2)) headers['x-forwarded-for'] = random.pick(['1.2.3.4', 'x', '::1, 10.0.0.1', '999.999.999.999']);
  if (random.chance(0.2)) headers['x-forwarded-host'] = random.pick(['evil.example', 'a:b:c', '']);
  if (random.chance(0.2)) headers['x-forwarded-proto'] = random.pick(['https', 'gopher', 'https, http']);
  if (mcp && random.chance(0.7)) headers.accept = 'application/json, text/event-stream';
  else if (random.chance(0.3)) headers.accept = random.pick(['text/html', 'application/json', 'text/event-stream', '*/*', 'application/json, text/event-stream', 'x/y;q=abc']);
  if (mcp || random.chance(0.05)) {
    if (random.chance(0.5)) headers['mcp-session-id'] = random.pick([known.mcpSessionId, known.mcpSessionId, 'nope', '', 'a'.repeat(300)]);
    if (random.chance(0.3)) headers['mcp-protocol-version'] = random.pick(['2025-11-25', '2025-03-26', '1900-01-01', 'x']);
    if (random.chance(0.1)) headers['last-event-id'] = random.pick(['x', '_0', '']);
  }
  if (random.chance(0.03)) headers['x-huge'] = 'h'.repeat(random.pick([8000, 20000]));
  if (random.chance(0.05)) headers['x-request-id'] = random.pick(['{"level":60}', 'a\tb', 'x'.repeat(200)]);
  if (random.chance(0.05)) headers['accept-encoding'] = random.pick(['gzip;q=x', 'br, zstd, *']);
  return headers;
}

/** A request sent with node:http (well-formed HTTP framing, hostile content). */
export function hostileRequest(random: Random, known: Known, paths: readonly string[], method = random.pick(METHODS)): RawRequest {
  let path = random.pick(paths).replace('{uid}', random.chance(0.7) ? known.interactionUid : random.pick(['x', '%zz', '..', 'a'.repeat(300)]));
  if (random.chance(0.5)) path += `?${hostileParams(random, known)}`;
  if (random.chance(0.05)) path = path.toUpperCase();
  if (random.chance(0.05)) path += '/';
  const headers = hostileHeaders(random, known, path);
  if (method === 'GET' || method === 'HEAD' || random.chance(0.2)) return { method, path, headers };
  const { body, contentType } = hostileBody(random, known, path);
  if (contentType) headers['content-type'] = contentType;
  return { method, path, headers, body };
}

/** Bytes sent on a raw socket: broken framing a well-behaved client cannot produce. */
export function brokenFraming(random: Random, paths: readonly string[]): { bytes: string; hangUpAfterMs?: number } {
  const path = random.pick(paths).replace('{uid}', 'x');
  const head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${random.pick(['application/json', 'application/x-www-form-urlencoded'])}\r\n`;
  switch (random.int(8)) {
    case 0: return { bytes: `${head}Transfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\nzz\r\nxyz\r\n0\r\n\r\n` };
    case 1: return { bytes: `${head}Transfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n`, hangUpAfterMs: 50 };
    case 2: return { bytes: `${head}Content-Length: 100\r\n\r\n{"a":`, hangUpAfterMs: 50 };
    case 3: return { bytes: `${head}Content-Length: 2\r\n\r\n{"a":1}` };
    case 4: return { bytes: `${head}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n` };
    case 5: return { bytes: `${head}Content-Length: -1\r\n\r\n` };
    case 6: return { bytes: `${head}Transfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n` };
    default: return { bytes: `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header Line\r\n\r\n` };
  }
}
