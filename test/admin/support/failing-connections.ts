/**
 * Real connections that fail, driven through a test auth-server as the clients send them
 * (test/helpers/oauth-flow.ts: claude.ai's DCR body and callback, its authorization URL, the MCP
 * TypeScript SDK's form-encoded token requests), so the views show what the recorder really
 * recorded. The scenarios slice (test/connections/) asserts each timeline step by step; the views'
 * tests only need a few attempts to list, filter and open.
 */
import assert from 'node:assert/strict';
import {
  connect, decide, redeem, registerClient, signIn, startAuthorization, CLAUDE_DCR_BODY, type RegisteredClient,
} from '../../helpers/oauth-flow.ts';
import type { TestAuthServer } from '../../helpers/start-auth-server.ts';

/** A DCR registration as claude.ai sends it, under another name (so the pages tell clients apart). */
export function registerAs(server: TestAuthServer, clientName: string): Promise<RegisteredClient> {
  return registerClient(server.issuer, { ...CLAUDE_DCR_BODY, client_name: clientName });
}

/** The user signs in and approves, the client redeems its code, then redeems it again: `code_replayed`. */
export async function replayCode(server: TestAuthServer, client: RegisteredClient, username: string, password: string): Promise<void> {
  const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: server.config.authServer.resource, username, password });
  assert.equal((await redeem(server.issuer, client, result)).status, 200);
  const again = await redeem(server.issuer, client, result);
  assert.equal(again.status, 400);
  assert.equal(again.body.error, 'invalid_grant');
}

/** The user signs in and denies on the consent page: `consent_denied`. */
export async function denyConsent(server: TestAuthServer, client: RegisteredClient, username: string, password: string): Promise<void> {
  const { page, browser } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: server.config.authServer.resource });
  const consent = await signIn(browser, page, username, password);
  const back = await decide(browser, consent, 'deny');
  assert.equal(new URL(back.url).searchParams.get('error'), 'access_denied');
}

/** The client asks for a redirect_uri it did not register: refused before anyone signs in. */
export async function askWrongRedirect(server: TestAuthServer, client: RegisteredClient, redirectUri: string): Promise<void> {
  const { page } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: server.config.authServer.resource, redirectUri });
  assert.equal(page.status, 400);
}

/** Writes what the server queued, so a read sees it (the recorder writes in batches). */
export async function flushConnectionEvents(server: TestAuthServer): Promise<void> {
  await server.auth.connectionRecorder.flush();
}
