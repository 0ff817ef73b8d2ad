/**
 * The steps of the connector flow as a real client and a real user perform them: register,
 * open /oauth/authorize in a browser, sign in and consent through the real forms, land on the
 * callback, redeem the code, refresh.
 */
import assert from 'node:assert/strict';
import { Browser, formAction, inputValue, type PageResult } from './browser.ts';
import { createPkce } from './pkce.ts';

export const CLAUDE_CALLBACK = 'https://claude.ai/api/mcp/auth_callback';

/** What claude.ai sends to /oauth/register (older connectors: public client, `none`). */
export const CLAUDE_DCR_BODY = {
  client_name: 'Claude',
  redirect_uris: [CLAUDE_CALLBACK],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
  scope: 'claudeai',
};

export interface RegisteredClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  [key: string]: unknown;
}

export async function register(issuer: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${issuer}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export async function registerClient(issuer: string, body: Record<string, unknown> = CLAUDE_DCR_BODY): Promise<RegisteredClient> {
  const response = await register(issuer, body);
  const json = await response.json() as RegisteredClient;
  assert.equal(response.status, 201, JSON.stringify(json));
  return json;
}

export interface AuthorizeRequest {
  clientId: string;
  redirectUri?: string;
  scope?: string;
  resource?: string | null;
  state?: string;
  codeChallenge?: string | null;
  codeChallengeMethod?: string | null;
  extra?: Record<string, string>;
}

export function authorizeUrl(issuer: string, request: AuthorizeRequest, challenge: string): URL {
  const url = new URL(`${issuer}/oauth/authorize`);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', request.clientId);
  url.searchParams.set('redirect_uri', request.redirectUri ?? CLAUDE_CALLBACK);
  if (request.scope !== undefined) url.searchParams.set('scope', request.scope);
  if (request.resource !== null && request.resource !== undefined) url.searchParams.set('resource', request.resource);
  url.searchParams.set('state', request.state ?? 'state-123');
  if (request.codeChallenge !== null) url.searchParams.set('code_challenge', request.codeChallenge ?? challenge);
  if (request.codeChallengeMethod !== null) url.searchParams.set('code_challenge_method', request.codeChallengeMethod ?? 'S256');
  for (const [k, v] of Object.entries(request.extra ?? {})) url.searchParams.set(k, v);
  return url;
}

export async function signIn(browser: Browser, page: PageResult, username: string, password: string): Promise<PageResult> {
  assert.match(page.html, /name="password"/, `expected the sign-in page, got ${page.status} ${page.url}\n${page.html.slice(0, 400)}`);
  return browser.submit(formAction(page.html), { csrf: inputValue(page.html, 'csrf')!, username, password }, page.url);
}

export async function decide(browser: Browser, page: PageResult, decision: 'approve' | 'deny', scopes?: string[]): Promise<PageResult> {
  assert.match(page.html, /name="decision"/, `expected the consent page, got ${page.status} ${page.url}\n${page.html.slice(0, 400)}`);
  const fields: Record<string, string | string[]> = { csrf: inputValue(page.html, 'csrf')!, decision };
  if (scopes) Object.assign(fields, { scope_choice: '1', scope: scopes });
  return browser.submit(formAction(page.html), fields, page.url);
}

export interface ConnectResult {
  callback: URL;
  code: string;
  verifier: string;
  redirectUri: string;
  browser: Browser;
}

/** Authorize → sign in → approve; returns the client callback the browser was sent to. */
export async function connect(issuer: string, request: AuthorizeRequest & { username: string; password: string; browser?: Browser; approveScopes?: string[] }): Promise<ConnectResult> {
  const browser = request.browser ?? new Browser(issuer);
  const { verifier, challenge } = createPkce();
  let page = await browser.navigate(authorizeUrl(issuer, request, challenge));
  if (page.html.includes('name="password"')) page = await signIn(browser, page, request.username, request.password);
  if (page.html.includes('name="decision"')) page = await decide(browser, page, 'approve', request.approveScopes);
  assert.ok(page.status >= 300 && page.status < 400, `expected a redirect to the client, got ${page.status}\n${page.html.slice(0, 600)}`);
  const callback = new URL(page.url);
  const code = callback.searchParams.get('code');
  assert.ok(code, `no code in ${callback.href}`);
  return { callback, code, verifier, redirectUri: request.redirectUri ?? CLAUDE_CALLBACK, browser };
}

export async function tokenRequest(issuer: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${issuer}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params),
  });
  return { status: response.status, body: await response.json() as Record<string, unknown>, headers: response.headers };
}

export function redeem(issuer: string, client: { client_id: string }, result: ConnectResult, extra: Record<string, string> = {}) {
  return tokenRequest(issuer, {
    grant_type: 'authorization_code',
    client_id: client.client_id,
    code: result.code,
    code_verifier: result.verifier,
    redirect_uri: result.redirectUri,
    ...extra,
  });
}

export function refresh(issuer: string, client: { client_id: string }, refreshToken: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}) {
  return tokenRequest(issuer, { grant_type: 'refresh_token', client_id: client.client_id, refresh_token: refreshToken, ...extra }, headers);
}

/** RFC 6749 §2.3.1: `client_secret_basic` form-urlencodes id and secret before base64. */
export function clientSecretBasic(clientId: string, secret: string): Record<string, string> {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return { authorization: `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}` };
}

/** Opens /oauth/authorize in a browser and returns where it lands, without signing in. */
export async function startAuthorization(issuer: string, request: AuthorizeRequest, browser = new Browser(issuer)): Promise<{ page: PageResult; verifier: string; browser: Browser }> {
  const { verifier, challenge } = createPkce();
  const page = await browser.navigate(authorizeUrl(issuer, request, challenge));
  return { page, verifier, browser };
}

/** Fails when a response body shows a stack frame or a server file path. */
export function assertNoStackTrace(body: string, what: string): void {
  assert.doesNotMatch(body, /\n\s*at\s+\S+|\bat\s+(?:async\s+)?\S+\s+\(|\bat\s+(?:file:\/\/|\/)|node:internal|node_modules|\.[cm]?[jt]s:\d+|\/(?:work|home|usr|tmp|var|app|src)\//, `${what} leaks a stack trace or a file path:\n${body.slice(0, 600)}`);
}
