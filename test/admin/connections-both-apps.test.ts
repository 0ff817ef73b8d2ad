/**
 * The "Connections" pages with the resource server running beside the auth-server, after real
 * requests to it: the MCP client's first POST without a token (the 401 challenge) and its
 * metadata fetch, then a user's connection whose token the MCP SDK client uses. The resource
 * server's steps reach the pages (read over its GET /connections/events) as the MCP server's,
 * with no notice of missing steps.
 *
 * The requests are the clients' own: the MCP TypeScript SDK's first initialize POST without a
 * token and its path-inserted PRM fetch (RFC 9728 §3.1; @modelcontextprotocol/sdk 1.32
 * client/auth.js discoverOAuthProtectedResourceMetadata), claude.ai's DCR body, sign-in and
 * consent through the real pages (test/helpers/oauth-flow.ts), then the SDK client with the token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser, type PageResult } from '../helpers/browser.ts';
import { connectClient, mcpRequest } from '../helpers/mcp-http.ts';
import { freePort } from '../helpers/net.ts';
import { connect, redeem } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { createUser, signInAt } from './support/admin-browser.ts';
import { registerAs } from './support/failing-connections.ts';

const AGENT = 'claude-code/2.0.14 (external, cli)';

function text(page: PageResult): string {
  return page.html.replace(/<[^>]+>/g, ' ').replace(/&amp;/g, '&').replace(/&#39;/g, "'").replace(/\s+/g, ' ');
}

for (const backend of TEST_BACKENDS) describe(`connections pages with the resource server's steps (${backend})`, () => {
  let auth: TestAuthServer;
  let resource: { mcpUrl: string; close(): Promise<void> } | undefined;
  let admin: Browser;
  let clientId: string;

  before(async () => {
    auth = await startAuthServer({ backend, env: { RESOURCE_URL: `http://127.0.0.1:${await freePort()}/mcp` } });
    resource = await startResourceServerBeside(auth);
    const mcpUrl = resource.mcpUrl;
    await createUser(auth, 'bob', 'bob password 1234', ['mcp:read']);

    const first = await mcpRequest(mcpUrl, { headers: { 'User-Agent': AGENT } });
    assert.equal(first.status, 401);
    const prm = await fetch(new URL('/.well-known/oauth-protected-resource/mcp', mcpUrl), { headers: { 'User-Agent': AGENT } });
    assert.equal(prm.status, 200);

    const client = await registerAs(auth, 'Claude');
    clientId = client.client_id;
    const tokens = await redeem(auth.issuer, client, await connect(auth.issuer, { clientId, scope: 'mcp:read', resource: mcpUrl, username: 'bob', password: 'bob password 1234' }));
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const { client: mcp } = await connectClient(mcpUrl, tokens.body.access_token as string);
    await mcp.listTools();
    await mcp.close();

    admin = (await signInAt(auth, 'admin', ADMIN_PASSWORD)).browser;
  });
  after(async () => {
    await resource?.close();
    await auth?.close();
  });

  test('the list has no notice of missing steps, the unauthenticated start, and bob\'s connection as connected', async () => {
    const page = await admin.navigate('/admin/connections');
    assert.equal(page.status, 200);
    assert.doesNotMatch(page.html, /steps are missing/, text(page));
    const words = text(page);
    assert.match(words, new RegExp(`Claude ${clientId} bob connected MCP request with a token`));
    assert.match(words, /not signed in (in progress|stalled) protected resource metadata read/);
  });

  test('bob\'s attempt: the MCP server\'s accepted request in the timeline', async () => {
    const list = await admin.navigate(`/admin/connections?user=bob&outcome=connected&client=${encodeURIComponent(clientId)}`);
    const ids = [...list.html.matchAll(/href="\/admin\/connections\/([^"?]+)"/g)].map((m) => m[1]!);
    assert.equal(ids.length, 1, text(list));
    const page = await admin.navigate(`/admin/connections/${ids[0]}`);
    assert.equal(page.status, 200);
    assert.match(text(page), /connected ·/);
    assert.match(text(page), /MCP server MCP request with a token ok/);
    assert.doesNotMatch(page.html, /class="warning explanation"/, 'a connected attempt needs no explanation');
  });

  test('the first request without a token and the metadata fetch are one attempt of the MCP server\'s steps, from the client\'s address and agent', async () => {
    const list = await admin.navigate('/admin/connections');
    const row = /<tr>\s*<td><a href="\/admin\/connections\/([^"]+)">[^<]*<\/a><\/td>\s*<td><\/td>/.exec(list.html);
    assert.ok(row, 'an attempt with no client yet');
    const page = await admin.navigate(`/admin/connections/${row[1]}`);
    const words = text(page);
    assert.match(words, /MCP server MCP request without a token, answered 401 \(sign-in needed\) ok/);
    assert.match(words, /MCP server protected resource metadata read ok/);
    assert.match(words, new RegExp(`from 127\\.0\\.0\\.1 · ${AGENT.replace(/[().]/g, '\\$&')}`));
  });
});
