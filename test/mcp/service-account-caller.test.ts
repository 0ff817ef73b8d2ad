/**
 * A script calling MCP tools without a person (MCP extension
 * `io.modelcontextprotocol/oauth-client-credentials`), end to end: both real apps, the MCP SDK
 * 1.32 client with its own `PrivateKeyJwtProvider` and `ClientCredentialsProvider`
 * (client/auth-extensions.js) as the transport's `authProvider`. The SDK meets the 401, reads the
 * protected resource metadata and the AS metadata, and fetches a token by the client credentials
 * grant, exactly as a script using it would. The resource server shows the caller as a service in
 * `whoami` and in the tool-call audit, gates its tools by scope as for anyone, and refuses its
 * tokens within seconds once an administrator disables it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider, PrivateKeyJwtProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { freePort } from '../helpers/net.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { mcpRequest } from '../helpers/mcp-http.ts';
import { waitFor } from '../helpers/wait-for.ts';

describe('a service account calling MCP tools through the MCP SDK (client credentials)', () => {
  let server: TestAuthServer;
  let rs: Awaited<ReturnType<typeof startResourceServerBeside>>;
  let mcpUrl: string;
  let keyService: { clientId: string; privateKey: string };
  let secretService: { clientId: string; clientSecret: string };
  const clients: Client[] = [];

  async function connectAs(authProvider: OAuthClientProvider): Promise<Client> {
    const client = new Client({ name: 'nightly-report-script', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider }));
    clients.push(client);
    return client;
  }

  const structured = (result: unknown) => (result as { structuredContent?: Record<string, unknown> }).structuredContent;

  before(async () => {
    const port = await freePort();
    mcpUrl = `http://127.0.0.1:${port}/mcp`;
    server = await startAuthServer({ env: { RESOURCE_URL: mcpUrl } });
    rs = await startResourceServerBeside(server, { configure: (config) => { config.revocation.pollInterval = 0.2; } });
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const created = await server.auth.admin.serviceAccounts.create({
      name: 'Nightly report', authMethod: 'private_key_jwt', scopes: ['mcp:read', 'mcp:admin'],
      jwks: JSON.stringify({ keys: [{ ...await exportJWK(publicKey), kid: 'report-1', alg: 'RS256', use: 'sig' }] }),
    }, CLI);
    keyService = { clientId: created.clientId, privateKey: await exportPKCS8(privateKey) };
    const secret = await server.auth.admin.serviceAccounts.create({ name: 'Backup job', authMethod: 'client_secret_basic', scopes: ['mcp:read'] }, CLI);
    secretService = { clientId: secret.clientId, clientSecret: secret.clientSecret! };
  });
  after(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await rs?.close();
    await server?.close();
  });

  test('PrivateKeyJwtProvider: whoami shows a service, not a user', async () => {
    const client = await connectAs(new PrivateKeyJwtProvider({
      clientId: keyService.clientId, privateKey: keyService.privateKey, algorithm: 'RS256', expectedIssuer: server.issuer,
    }));
    const me = structured(await client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(me?.kind, 'service');
    assert.equal(me?.acts_for, `service Nightly report (client_id ${keyService.clientId})`);
    assert.equal(me?.subject, keyService.clientId);
    assert.equal(me?.client_id, keyService.clientId);
    assert.equal(me?.username, undefined);
    assert.deepEqual(me?.scopes, ['mcp:read', 'mcp:admin']);
  });

  test('ClientCredentialsProvider (client_secret_basic): whoami shows the service; a tool needing a scope it lacks is denied', async () => {
    const client = await connectAs(new ClientCredentialsProvider({
      clientId: secretService.clientId, clientSecret: secretService.clientSecret, expectedIssuer: server.issuer,
    }));
    const me = structured(await client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(me?.acts_for, `service Backup job (client_id ${secretService.clientId})`);
    await assert.rejects(
      client.callTool({ name: 'create_note', arguments: { title: 'from a script' } }),
      /403|insufficient_scope|scope/i,
    );
  });

  test('the tool-call audit names the service account', async () => {
    const client = await connectAs(new PrivateKeyJwtProvider({
      clientId: keyService.clientId, privateKey: keyService.privateKey, algorithm: 'RS256', expectedIssuer: server.issuer,
    }));
    await client.callTool({ name: 'whoami', arguments: {} });
    const activity = structured(await client.callTool({ name: 'recent_activity', arguments: { limit: 20 } }));
    const calls = activity?.calls as Array<Record<string, unknown>>;
    const byReport = calls.find((c) => c.client_id === keyService.clientId && c.tool === 'whoami');
    assert.ok(byReport, JSON.stringify(calls));
    assert.equal(byReport.service, 'Nightly report');
    assert.equal(byReport.username, null);
    const byBackup = calls.find((c) => c.client_id === secretService.clientId && c.tool === 'create_note');
    assert.equal(byBackup?.outcome, 'denied');
    assert.equal(byBackup?.service, 'Backup job');
  });

  test('a stateless MCP 2026-07-28 request with a service account\'s token: whoami shows the service', async () => {
    const token = await fetch(`${server.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${secretService.clientId}:${secretService.clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: mcpUrl }),
    }).then(async (r) => (await r.json() as { access_token: string }).access_token);
    // As test/mcp/stateless-transport.test.ts sends it: no initialize, no session, the envelope in _meta.
    const response = await fetch(mcpUrl, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${token}`,
        'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/call', 'Mcp-Name': 'whoami',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {}, _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientInfo': { name: 'backup-job', version: '1.0.0' },
        'io.modelcontextprotocol/clientCapabilities': {},
      } } }),
    });
    assert.equal(response.status, 200);
    const rpc = await response.json() as { result?: { structuredContent?: Record<string, unknown> } };
    assert.equal(rpc.result?.structuredContent?.acts_for, `service Backup job (client_id ${secretService.clientId})`, JSON.stringify(rpc));
  });

  test('disabling the service account refuses the token it holds within seconds', async () => {
    const { clientId, clientSecret } = await server.auth.admin.serviceAccounts.create({ name: 'Soon paused', authMethod: 'client_secret_basic', scopes: ['mcp:read'] }, CLI);
    const token = await fetch(`${server.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: mcpUrl }),
    }).then(async (r) => (await r.json() as { access_token: string }).access_token);
    const ping = () => mcpRequest(mcpUrl, { token, body: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} } });
    assert.notEqual((await ping()).status, 401);
    await server.auth.admin.serviceAccounts.setDisabled(clientId, true, CLI);
    await waitFor('the token to be refused once the revocation feed names the client', async () => (await ping()).status === 401, 5000);
  });
});
