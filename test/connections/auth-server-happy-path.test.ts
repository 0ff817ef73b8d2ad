/**
 * The auth-server records every step of a connection that works (issue 18), as the official MCP
 * SDK client drives it (auth() from @modelcontextprotocol/sdk/client/auth.js: it fetches the
 * metadata, registers by DCR, sends the user to /oauth/authorize with PKCE and the resource,
 * redeems the code and refreshes), and the steps join: one flow id across the browser steps, one
 * grant id from consent to refresh.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { Browser } from '../helpers/browser.ts';
import { CapturedConnectionEvents } from '../helpers/capture-connection-events.ts';
import { TestOAuthClientProvider } from '../helpers/mcp-oauth-client.ts';
import { startMetadataServer } from '../helpers/net.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const CALLBACK = 'http://127.0.0.1:51234/callback';

describe('the connection steps of a working MCP SDK client', () => {
  let metadata: { server: Server; resource: string };
  let server: TestAuthServer;
  const recorded = new CapturedConnectionEvents();
  before(async () => {
    let issuer = '';
    metadata = await startMetadataServer(() => issuer);
    server = await startAuthServer({ env: { RESOURCE_URL: metadata.resource }, connectionRecorder: recorded });
    issuer = server.issuer;
  });
  after(async () => {
    await server.close();
    metadata.server.close();
  });

  test('records server_metadata → registration → authorization → sign_in → consent → redirect → code_exchange → refresh, joined by flow and grant', async () => {
    const client = new TestOAuthClientProvider(CALLBACK);
    assert.equal(await auth(client, { serverUrl: metadata.resource, scope: 'mcp:read mcp:write' }), 'REDIRECT');
    const callback = await client.signInAt(server.issuer, 'admin', ADMIN_PASSWORD);
    assert.equal(await auth(client, { serverUrl: metadata.resource, authorizationCode: callback.searchParams.get('code')! }), 'AUTHORIZED');
    assert.equal(await auth(client, { serverUrl: metadata.resource }), 'AUTHORIZED', 'refreshed');

    const clientId = client.client!.client_id;
    const admin = (await server.auth.users.findByUsername('admin'))!;
    const steps = recorded.events.map((event) => event.step);
    // The SDK fetches the metadata before registering and again before each token request.
    assert.deepEqual([...new Set(steps)], ['server_metadata', 'registration', 'authorization', 'sign_in', 'consent', 'redirect', 'code_exchange', 'refresh']);
    assert.ok(recorded.events.every((event) => event.outcome === 'ok'), JSON.stringify(recorded.events, null, 2));
    assert.ok(recorded.events.every((event) => event.ip === '127.0.0.1'), 'every event has the caller address');

    const registration = recorded.only('registration');
    assert.equal(registration.clientId, clientId);
    assert.equal(registration.redirectUri, CALLBACK);

    const authorization = recorded.only('authorization');
    assert.equal(authorization.clientId, clientId);
    assert.equal(authorization.redirectUri, CALLBACK);
    assert.equal(authorization.resource, metadata.resource);
    assert.equal(authorization.scope, 'mcp:read mcp:write');
    assert.match(authorization.flowId ?? '', /^[A-Za-z0-9_-]{22}$/);

    const signIn = recorded.only('sign_in');
    const consent = recorded.only('consent');
    const redirect = recorded.only('redirect');
    for (const event of [signIn, consent, redirect]) {
      assert.equal(event.flowId, authorization.flowId, `${event.step} joins the authorization by its flow id`);
      assert.equal(event.clientId, clientId);
      assert.equal(event.accountId, admin.id);
    }
    assert.equal(redirect.redirectUri, CALLBACK);
    assert.match(consent.scope ?? '', /mcp:read/);
    assert.match(consent.grantId ?? '', /.+/);

    const exchange = recorded.only('code_exchange');
    const refresh = recorded.only('refresh');
    for (const event of [redirect, exchange, refresh]) {
      assert.equal(event.grantId, consent.grantId, `${event.step} joins the consent by its grant id`);
    }
    assert.equal(exchange.accountId, admin.id);
    assert.equal(exchange.resource, metadata.resource);
    assert.equal(refresh.clientId, clientId);
  });

  test('a second authorization in a signed-in browser records no sign-in, and has a flow id of its own', async () => {
    const browser = new Browser(server.issuer);
    const client = new TestOAuthClientProvider(CALLBACK);
    assert.equal(await auth(client, { serverUrl: metadata.resource, scope: 'mcp:read' }), 'REDIRECT');
    await client.signInAt(server.issuer, 'admin', ADMIN_PASSWORD, browser);
    const first = recorded.of('authorization').at(-1)!.flowId;
    recorded.clear();
    assert.equal(await auth(client, { serverUrl: metadata.resource, scope: 'mcp:read' }), 'REDIRECT');
    await client.signInAt(server.issuer, 'admin', ADMIN_PASSWORD, browser);
    const browserSteps = recorded.events.filter((event) => event.step !== 'server_metadata');
    assert.deepEqual(browserSteps.map((event) => `${event.step} ${event.outcome}`), ['authorization ok', 'consent ok', 'redirect ok']);
    const second = browserSteps[0]!.flowId;
    assert.ok(second && second !== first, 'a new flow');
    assert.ok(browserSteps.every((event) => event.flowId === second));
  });
});
