/**
 * Gets a user's tokens the way an MCP client app does: the SDK's own `auth()` discovers the
 * authorization server from the resource server's metadata, registers (DCR) on first use, sends
 * the browser to /oauth/authorize, where the user signs in and consents through the real forms,
 * and redeems the code.
 */
import assert from 'node:assert/strict';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { TestOAuthClientProvider } from '../../helpers/mcp-oauth-client.ts';

export interface Connection {
  accessToken: string;
  refreshToken: string;
  clientId: string;
  /** `sub`, `gid` (the grant), `scope` and the signing `kid` of the access token. */
  subject: string;
  grantId: string;
  scope: string;
  kid: string;
}

export function describeTokens(accessToken: string, refreshToken: string): Connection {
  const claims = decodeJwt(accessToken);
  return {
    accessToken,
    refreshToken,
    clientId: claims.client_id as string,
    subject: claims.sub!,
    grantId: claims.gid as string,
    scope: claims.scope as string,
    kid: decodeProtectedHeader(accessToken).kid!,
  };
}

/** `app` is one registered client app; each call is a new authorization by `username`. */
export async function signInThroughSdk(
  app: TestOAuthClientProvider,
  where: { issuer: string; mcpUrl: string },
  username: string,
  password: string,
  scope = 'mcp:read',
): Promise<Connection> {
  app.invalidateCredentials('tokens');
  assert.equal(await auth(app, { serverUrl: where.mcpUrl, scope }), 'REDIRECT');
  const callback = await app.signInAt(where.issuer, username, password);
  assert.equal(await auth(app, { serverUrl: where.mcpUrl, authorizationCode: callback.searchParams.get('code')! }), 'AUTHORIZED');
  const tokens = app.savedTokens!;
  assert.ok(tokens.refresh_token, 'a refresh token is issued to a client registered for the refresh_token grant');
  return describeTokens(tokens.access_token, tokens.refresh_token);
}
