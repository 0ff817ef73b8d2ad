/**
 * What a connecting MCP client sends, as the real clients send it, each with a User-Agent of its
 * own (as Claude, Cursor or the SDK in an app each have one): the first MCP request without a
 * token, the resource metadata, the authorization server metadata, the registration, the code
 * redemption; and an MCP SDK client whose every request carries that User-Agent.
 */
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { mcpRequest, parseChallenge } from '../../helpers/mcp-http.ts';
import type { TestOAuthClientProvider } from '../../helpers/mcp-oauth-client.ts';
import { register, tokenRequest, type ConnectResult, type RegisteredClient } from '../../helpers/oauth-flow.ts';

export interface Discovered {
  /** The resource the protected resource metadata names (what the client copies into `resource=`). */
  resource: string;
  issuer: string;
  registrationEndpoint: string;
}

/**
 * The discovery a connector does before it registers (MCP 2025-11-25 authorization §2.3–2.4): an
 * MCP POST without a token (401 with `resource_metadata`), the protected resource metadata it
 * names (RFC 9728), then the authorization server metadata (RFC 8414).
 */
export async function discover(mcpUrl: string, userAgent: string): Promise<Discovered> {
  const headers = { 'user-agent': userAgent };
  const challenge = await mcpRequest(mcpUrl, { headers });
  await challenge.arrayBuffer();
  assert.equal(challenge.status, 401);
  const prmUrl = parseChallenge(challenge.headers.get('www-authenticate')).params.resource_metadata;
  assert.ok(prmUrl, 'the 401 names the resource metadata');
  const prm = await (await fetch(prmUrl, { headers })).json() as { resource: string; authorization_servers: string[] };
  const issuer = prm.authorization_servers[0]!;
  const metadata = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`, { headers })).json() as { registration_endpoint: string };
  return { resource: prm.resource, issuer, registrationEndpoint: metadata.registration_endpoint };
}

/** Dynamic Client Registration (RFC 7591) with `body` as the client sends it; 201 expected. */
export async function registerAs(issuer: string, body: Record<string, unknown>, userAgent: string): Promise<RegisteredClient> {
  const response = await register(issuer, body, { 'user-agent': userAgent });
  const json = await response.json() as RegisteredClient;
  assert.equal(response.status, 201, JSON.stringify(json));
  return json;
}

/** The code redemption at /oauth/token, as a public client sends it (RFC 6749 §4.1.3 + PKCE). */
export function redeemAs(issuer: string, client: { client_id: string }, result: ConnectResult, userAgent: string, verifier = result.verifier) {
  return tokenRequest(issuer, {
    grant_type: 'authorization_code',
    client_id: client.client_id,
    code: result.code,
    code_verifier: verifier,
    redirect_uri: result.redirectUri,
  }, { 'user-agent': userAgent });
}

/** A fetch that sends `userAgent` on every request (the SDK's transport and its auth() use it). */
export function fetchAs(userAgent: string): FetchLike {
  return (url, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set('user-agent', userAgent);
    return fetch(url, { ...init, headers });
  };
}

/** The official MCP SDK client on the MCP URL, authorizing through `provider`. */
export function sdkTransport(mcpUrl: string, provider: TestOAuthClientProvider, userAgent: string): StreamableHTTPClientTransport {
  return new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: fetchAs(userAgent) });
}

export function sdkClient(): Client {
  return new Client({ name: 'gatehouse-scenarios', version: '1.0.0' });
}
