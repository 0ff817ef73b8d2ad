/**
 * Federated sign-in through the real pages in Chromium, and what the MCP server then sees:
 * the token's subject is the linked local user, and `whoami` shows that user.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Browser as Chromium } from 'playwright-core';
import { interceptCallback, launchChromium, screenshot } from '../helpers/chromium.ts';
import { authorizeUrl, CLAUDE_CALLBACK, registerClient, tokenRequest } from '../helpers/oauth-flow.ts';
import { freePort } from '../helpers/net.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/start-upstream-idp.ts';

describe('federated sign-in in Chromium, then the MCP server', () => {
  let idp: UpstreamIdp;
  let server: TestAuthServer;
  let chromium: Chromium;
  let rs: Awaited<ReturnType<typeof startResourceServerBeside>>;
  let mcpUrl: string;

  before(async () => {
    const port = await freePort();
    mcpUrl = `http://127.0.0.1:${port}/mcp`;
    // On another loopback host: on Gatehouse's, the upstream's `_session` cookie would replace Gatehouse's.
    idp = await startUpstreamIdp({ 'dana@example.com': { email: 'dana@example.com', email_verified: true } }, { host: '127.0.0.2' });
    server = await startAuthServer({
      env: { RESOURCE_URL: mcpUrl },
      configure(config) {
        config.authServer.mode = 'both';
        config.authServer.upstreams = [{
          id: 'test-idp', displayName: 'Test IdP', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret,
          scopes: ['openid', 'email'], allowedDomains: ['example.com'], allowedEmails: [], newUsers: 'allow',
          defaultScopes: ['mcp:read', 'mcp:write'], adminUsers: [], adminScopes: ['mcp:admin'], timeout: 5,
        }];
      },
    });
    await idp.allowClient(`${server.issuer}/oauth/callback/test-idp`);
    rs = await startResourceServerBeside(server);
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await rs?.close();
    await server?.close();
    await idp?.close();
  });

  test('click "Sign in with Test IdP", sign in there, approve here → whoami shows the linked user', async () => {
    const client = await registerClient(server.issuer);
    const context = await chromium.newContext();
    const page = await context.newPage();
    const callbacks = await interceptCallback(page, CLAUDE_CALLBACK);
    const { verifier, challenge } = createPkce();
    await page.goto(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read mcp:write', resource: mcpUrl }, challenge).href);
    await screenshot(page, 'sign-in-with-upstream');
    await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();

    // The upstream's own (development) sign-in and consent pages.
    await page.waitForURL(`${idp.issuer}/**`);
    await page.locator('input[name="login"]').fill('dana@example.com');
    await page.locator('input[name="password"]').fill('anything');
    await page.locator('button[type="submit"]').first().click();
    await page.locator('button[type="submit"]').first().click();

    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    await screenshot(page, 'consent-after-upstream');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${CLAUDE_CALLBACK}**`);
    await context.close();

    const code = callbacks.at(-1)!.searchParams.get('code')!;
    const tokens = await tokenRequest(server.issuer, { grant_type: 'authorization_code', client_id: client.client_id, code, code_verifier: verifier, redirect_uri: CLAUDE_CALLBACK });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));

    const dana = (await server.auth.users.findByUsername('dana@example.com'))!;
    assert.ok(dana, 'the first federated sign-in created a local user');
    const mcp = new Client({ name: 'federated-e2e', version: '1.0.0' });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), {
      requestInit: { headers: { authorization: `Bearer ${tokens.body.access_token as string}` } },
    }));
    const me = (await mcp.callTool({ name: 'whoami', arguments: {} })).structuredContent as { subject: string; username: string };
    assert.equal(me.subject, dana.id);
    assert.equal(me.username, 'dana@example.com');
    await mcp.close();
  });
});
