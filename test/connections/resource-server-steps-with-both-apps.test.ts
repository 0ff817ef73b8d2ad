/**
 * The resource server's steps of one real connection (issue 18), with both real apps and the
 * official MCP SDK client as Claude Code, VS Code and the Inspector run it: the 401 challenge, the
 * metadata fetch, then, after sign-in and consent through the real forms, the first accepted
 * request naming the client the SDK registered, the signed-in user and the grant; a guessed
 * `/authorize` as Claude sends it when its discovery fails (anthropics/claude-ai-mcp#341, #716:
 * "redirects the browser to https://<host>/authorize?response_type=code&client_id=…"); and the
 * refusal once an admin revokes the grant.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt } from 'jose';
import { mcpRequest } from '../helpers/mcp-http.ts';
import { TestOAuthClientProvider } from '../helpers/mcp-oauth-client.ts';
import { freePort } from '../helpers/net.ts';
import { authorizeUrl } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { CapturedConnectionEvents } from './support/captured-connection-events.ts';

describe('the resource server records a real connection (both apps, the MCP SDK client)', () => {
  let authServer: TestAuthServer;
  let rs: Awaited<ReturnType<typeof startResourceServerBeside>>;
  let mcpUrl: string;
  const events = new CapturedConnectionEvents();
  const provider = new TestOAuthClientProvider('http://127.0.0.1:53683/callback');

  before(async () => {
    const port = await freePort();
    mcpUrl = `http://127.0.0.1:${port}/mcp`;
    authServer = await startAuthServer({ env: { RESOURCE_URL: mcpUrl } });
    rs = await startResourceServerBeside(authServer, { connectionRecorder: events });
  });
  after(async () => {
    await rs?.close();
    await authServer?.close();
  });

  test('401, metadata, sign-in, then the first accepted request names the registered client, the user and the grant, once', async () => {
    const first = new Client({ name: 'gatehouse-connections', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
    await assert.rejects(first.connect(transport), UnauthorizedError);
    assert.deepEqual(events.events.map(({ step, outcome }) => `${step} ${outcome}`), ['mcp_challenge ok', 'resource_metadata ok']);

    const callback = await provider.signInAt(authServer.issuer, 'admin', ADMIN_PASSWORD);
    await transport.finishAuth(callback.searchParams.get('code')!);
    const client = new Client({ name: 'gatehouse-connections', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider }));
    for (let i = 0; i < 3; i++) await client.callTool({ name: 'whoami', arguments: {} });
    await client.close();

    const claims = decodeJwt(provider.savedTokens!.access_token);
    const admin = (await authServer.auth.users.findByUsername('admin'))!;
    const accepted = events.of('mcp_request');
    assert.equal(accepted.length, 1, JSON.stringify(accepted));
    assert.deepEqual(accepted[0], {
      step: 'mcp_request', outcome: 'ok', clientId: provider.client!.client_id, accountId: admin.id, grantId: claims.gid, scope: claims.scope,
      resource: mcpUrl, ip: '127.0.0.1', userAgent: accepted[0]!.userAgent,
    });
    assert.ok(typeof claims.gid === 'string' && claims.gid.length > 0, 'the real token names its grant');
  });

  test("Claude's guessed /authorize is recorded with its client and where it was sent, never its query", async () => {
    events.clear();
    const { challenge } = createPkce();
    const guessed = authorizeUrl(new URL(mcpUrl).origin, { clientId: provider.client!.client_id, resource: mcpUrl, scope: 'mcp:read', state: 'opaque-state-7f3a' }, challenge);
    guessed.pathname = '/authorize';
    const response = await fetch(guessed, { redirect: 'manual' });
    assert.equal(response.status, 307);
    assert.equal(new URL(response.headers.get('location')!).pathname, '/oauth/authorize');

    assert.deepEqual(events.events, [{
      step: 'resource_metadata', outcome: 'ok', clientId: provider.client!.client_id,
      reason: `the client guessed \`/authorize\` at the MCP server's origin (the MCP 2025-03-26 fallback) instead of reading the authorization server metadata; sent on to \`${authServer.issuer}/oauth/authorize\``,
      ip: '127.0.0.1', userAgent: 'node',
    }]);
    const recorded = JSON.stringify(events.events);
    for (const secret of ['opaque-state-7f3a', challenge]) assert.ok(!recorded.includes(secret), 'no query value is recorded');
  });

  test('once an admin revokes the grant, its token is refused and recorded as token_revoked, naming the client and grant', async () => {
    events.clear();
    const token = provider.savedTokens!.access_token;
    const { gid, client_id: clientId } = decodeJwt(token);
    await authServer.auth.admin.revocations.revokeGrant(gid as string);
    await waitFor('the revocation to reach the resource server', async () => (await mcpRequest(mcpUrl, { token })).status === 401);

    const refused = events.of('mcp_request').filter((event) => event.outcome === 'refused');
    assert.equal(refused.length, 1, 'the repeats while waiting are recorded once');
    assert.equal(refused[0]!.reasonCode, 'token_revoked');
    assert.match(refused[0]!.reason!, /grant was revoked/);
    assert.equal(refused[0]!.clientId, clientId);
    assert.equal(refused[0]!.grantId, gid);
  });
});
