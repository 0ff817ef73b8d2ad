/**
 * `challenge_scopes: all` (the default) end to end, as a client that never steps up lives it
 * (issue 16, point 9): the real MCP SDK client reads the 401 challenge and asks for every scope a
 * tool uses at its first authorization; the user unticks what they refuse on the consent page in
 * Chromium; the token carries only what was left ticked, and the 403 step-up still answers a
 * tool that needs a refused scope.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt } from 'jose';
import type { Browser as Chromium } from 'playwright-core';
import { interceptCallback, launchChromium, screenshot } from '../helpers/chromium.ts';
import { TestOAuthClientProvider } from '../helpers/mcp-oauth-client.ts';
import { freePort } from '../helpers/net.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const CALLBACK = 'http://127.0.0.1:53682/callback';

describe('challenge_scopes all: ask for everything first, untick on the consent page (Chromium)', () => {
  let authServer: TestAuthServer;
  let rs: Awaited<ReturnType<typeof startResourceServerBeside>>;
  let chromium: Chromium;
  let mcpUrl: string;

  before(async () => {
    mcpUrl = `http://127.0.0.1:${await freePort()}/mcp`;
    authServer = await startAuthServer({ env: { RESOURCE_URL: mcpUrl } });
    assert.equal(authServer.config.resourceServer.challengeScopes, 'all', 'the default');
    rs = await startResourceServerBeside(authServer);
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await rs?.close();
    await authServer?.close();
  });

  test('the SDK asks for every scope, the user unticks mcp:write and mcp:admin, the token has mcp:read only', async () => {
    const provider = new TestOAuthClientProvider(CALLBACK);
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
    await assert.rejects(new Client({ name: 'no-step-up', version: '1.0.0' }).connect(transport), UnauthorizedError);
    const authorizationUrl = provider.authorizationUrls.at(-1)!;
    assert.equal(authorizationUrl.searchParams.get('scope'), 'mcp:read mcp:write mcp:admin', "the 401's scope, every scope a tool uses");

    const context = await chromium.newContext();
    const page = await context.newPage();
    const callbacks = await interceptCallback(page, CALLBACK);
    await page.goto(authorizationUrl.href);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    for (const scope of [/mcp:read/, /mcp:write/, /mcp:admin/]) {
      assert.equal(await page.getByRole('checkbox', { name: scope }).isChecked(), true, `${scope} is offered, ticked`);
    }
    await page.getByRole('checkbox', { name: /mcp:write/ }).uncheck();
    await page.getByRole('checkbox', { name: /mcp:admin/ }).uncheck();
    await screenshot(page, 'consent-all-scopes-unticked');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${CALLBACK}**`);
    await context.close();

    await transport.finishAuth(callbacks.at(-1)!.searchParams.get('code')!);
    assert.equal(decodeJwt(provider.savedTokens!.access_token).scope, 'mcp:read');
    assert.ok(provider.savedTokens!.refresh_token, 'a refresh token without offline_access');

    const client = new Client({ name: 'no-step-up', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider }));
    const me = (await client.callTool({ name: 'whoami', arguments: {} })) as unknown as { structuredContent: { scopes: string[] } };
    assert.deepEqual(me.structuredContent.scopes, ['mcp:read']);
    await assert.rejects(
      client.callTool({ name: 'create_note', arguments: { title: 'refused' } }),
      (err: unknown) => err instanceof StreamableHTTPError && err.code === 403,
      'the refused scope stays refused: the 403 step-up answers',
    );
    await client.close();
  });
});
