/**
 * The whole connector journey with both real apps and the official MCP SDK client:
 * 401 → discovery → DCR → authorize → sign in and consent through the real forms → token →
 * initialize → tools → a 403 step-up challenge → a step-up authorization → token expiry and
 * the client's own refresh.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt } from 'jose';
import { TestOAuthClientProvider } from '../helpers/mcp-oauth-client.ts';
import { freePort } from '../helpers/net.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { waitFor } from '../helpers/wait-for.ts';

function structured<T>(result: unknown): T {
  return (result as { structuredContent: T }).structuredContent;
}

describe('an MCP client connects through Gatehouse (both apps, real SDK client)', () => {
  let auth_: TestAuthServer;
  let rs: Awaited<ReturnType<typeof startResourceServerBeside>>;
  let mcpUrl: string;
  const provider = new TestOAuthClientProvider('http://127.0.0.1:53682/callback');

  before(async () => {
    const port = await freePort();
    mcpUrl = `http://127.0.0.1:${port}/mcp`;
    auth_ = await startAuthServer({
      env: { RESOURCE_URL: mcpUrl },
      configure(config) {
        config.authServer.accessTokenTtl = 2;
      },
    });
    // The resource server's clock runs ahead by its verifier's leeway (5 s), so a 2 s token is
    // refused 2 s after it was issued instead of 7: the expiry test waits the token's lifetime only.
    // challenge_scopes: minimal, so the first authorization asks for mcp:read only and the 403
    // step-up below is reached (the default, all, asks for every scope up front).
    rs = await startResourceServerBeside(auth_, { clock: TestClock.ahead(5), configure: (config) => { config.challengeScopes = 'minimal'; } });
  });
  after(async () => {
    await rs.close();
    await auth_.close();
  });

  async function connected(): Promise<Client> {
    const client = new Client({ name: 'gatehouse-e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider }));
    return client;
  }

  test('first contact: 401, discovery, registration, sign-in, consent, then tools work as the signed-in user', async () => {
    const first = new Client({ name: 'gatehouse-e2e', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
    await assert.rejects(first.connect(transport), UnauthorizedError, 'no token yet: the SDK must go and authorize');
    assert.ok(provider.client?.client_id, 'registered by DCR');
    const authorizationUrl = provider.authorizationUrls.at(-1)!;
    assert.equal(authorizationUrl.origin, auth_.issuer, 'found the authorization server through the resource metadata');
    assert.equal(authorizationUrl.searchParams.get('resource'), mcpUrl);
    assert.equal(authorizationUrl.searchParams.get('scope'), 'mcp:read', "the 401's scope hint");

    const callback = await provider.signInAt(auth_.issuer, 'admin', ADMIN_PASSWORD);
    await transport.finishAuth(callback.searchParams.get('code')!);

    const client = await connected();
    const tools = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(tools, ['create_note', 'delete_note', 'get_note', 'list_notes', 'recent_activity', 'whoami']);
    const me = structured<{ subject: string; username: string; client_id: string; scopes: string[] }>(await client.callTool({ name: 'whoami', arguments: {} }));
    const admin = (await auth_.auth.users.findByUsername('admin'))!;
    assert.equal(me.subject, admin.id);
    assert.equal(me.username, 'admin');
    assert.equal(me.client_id, provider.client!.client_id);
    assert.deepEqual(me.scopes, ['mcp:read']);
    await client.close();
  });

  test('a read-only token calling create_note meets the 403 step-up challenge; stepping up grants mcp:write', async () => {
    const raw = await fetch(mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${provider.savedTokens!.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'create_note', arguments: { title: 't', body: 'b' } } }),
    });
    // The token (2 s, plus the resource server's 5 s leeway) is still good: this is about scope.
    assert.equal(raw.status, 403);
    const challenge = raw.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer /);
    assert.match(challenge, /error="insufficient_scope"/);
    assert.match(challenge, /scope="[^"]*mcp:write[^"]*"/);
    assert.match(challenge, /resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/);

    const client = await connected();
    await assert.rejects(
      client.callTool({ name: 'create_note', arguments: { title: 'Shopping', body: 'milk' } }),
      (err: unknown) => err instanceof StreamableHTTPError && err.code === 403,
      'refreshing cannot add a scope: the SDK reports the 403',
    );
    await client.close();

    // Step up as a client does after the challenge: authorize again for more scopes.
    provider.invalidateCredentials('tokens');
    assert.equal(await auth(provider, { serverUrl: mcpUrl, scope: 'mcp:read mcp:write' }), 'REDIRECT');
    const callback = await provider.signInAt(auth_.issuer, 'admin', ADMIN_PASSWORD);
    assert.equal(await auth(provider, { serverUrl: mcpUrl, authorizationCode: callback.searchParams.get('code')! }), 'AUTHORIZED');
    assert.equal(decodeJwt(provider.savedTokens!.access_token).scope, 'mcp:read mcp:write');

    const stepped = await connected();
    const created = structured<{ id: string }>(await stepped.callTool({ name: 'create_note', arguments: { title: 'Shopping', body: 'milk' } }));
    const listed = structured<{ notes: Array<{ id: string; title: string }> }>(await stepped.callTool({ name: 'list_notes', arguments: {} }));
    assert.ok(listed.notes.some((n) => n.id === created.id && n.title === 'Shopping'));
    await stepped.close();
  });

  test('after the access token expires, the client refreshes by itself and carries on', async () => {
    const client = await connected();
    const before = provider.savedTokens!;
    // The provider's token lifetime runs on real time: wait until the resource server refuses the
    // old token (its 2 s lifetime; the resource server's clock is ahead by its leeway).
    await waitFor('the resource server to refuse the expired token', async () => {
      const probe = await fetch(mcpUrl, { method: 'POST', headers: { authorization: `Bearer ${before.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
      await probe.arrayBuffer();
      return probe.status === 401;
    }, 15_000, 100);
    const me = structured<{ username: string }>(await client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(me.username, 'admin');
    assert.notEqual(provider.savedTokens!.access_token, before.access_token, 'a new access token');
    assert.notEqual(provider.savedTokens!.refresh_token, before.refresh_token, 'the refresh token rotated');
    await client.close();
  });
});
