/**
 * The admin pages in Debian's Chromium, by clicking and typing as an administrator would:
 * sign in, create a user, allow a redirect URI and register a client with it, revoke a grant
 * (the client's refresh fails), create and disable a service account (its secret gets a client
 * credentials token, then no more), rotate the signing key (old and new tokens both verify against
 * /oauth/jwks). No CSP violation on the way.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { collectCspViolations, launchChromium, screenshot } from '../helpers/chromium.ts';
import { clientSecretBasic, refresh, registerClient, tokenRequest } from '../helpers/oauth-flow.ts';
import { storedModel } from '../../apps/auth-server/src/provider/stored-model.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { connectAs, RESOURCE } from './support/admin-browser.ts';

const APP_CALLBACK = 'https://tools.example.com/oauth/callback';

describe('admin pages in Chromium', () => {
  let server: TestAuthServer;
  let chromium: Chromium;
  let context: BrowserContext;
  let page: Page;
  let violations: string[] = [];

  before(async () => {
    server = await startAuthServer();
    chromium = await launchChromium();
    context = await chromium.newContext();
    page = await context.newPage();
    violations = collectCspViolations(page);
  });
  after(async () => {
    await context?.close();
    await chromium?.close();
    await server?.close();
  });

  async function verifies(token: string): Promise<boolean> {
    const jwks = await (await fetch(`${server.issuer}/oauth/jwks`)).json() as JSONWebKeySet;
    try {
      await jwtVerify(token, createLocalJWKSet(jwks), { issuer: server.issuer, audience: RESOURCE, typ: 'at+jwt' });
      return true;
    } catch {
      return false;
    }
  }

  test('opening /admin signs in on the real sign-in page and lands on the overview', async () => {
    await page.goto(`${server.issuer}/admin`);
    assert.equal(await page.title(), 'Sign in · Gatehouse');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Administration' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/admin');
    await screenshot(page, 'admin-overview');
  });

  test('create a user', async () => {
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByLabel('Username').fill('maya');
    await page.getByLabel('Password').fill('maya password 123');
    await page.getByRole('checkbox', { name: 'mcp:write' }).check();
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('heading', { name: 'maya' }).waitFor();
    assert.match(await page.getByRole('status').innerText(), /The user was created/);
    await screenshot(page, 'admin-user-created');
    assert.deepEqual((await server.auth.users.findByUsername('maya'))!.scopes, ['mcp:read', 'mcp:write']);
  });

  test('allow a redirect URI, then register a client with it', async () => {
    await page.getByRole('link', { name: 'Redirect URIs' }).click();
    await page.getByLabel('Allow a redirect URI').fill(APP_CALLBACK);
    await page.getByRole('button', { name: 'Allow', exact: true }).click();
    assert.match(await page.getByRole('status').innerText(), /The redirect URI was allowed/);
    const client = await registerClient(server.issuer, { client_name: 'Tools', redirect_uris: [APP_CALLBACK], grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none' });
    await page.reload();
    const row = page.getByRole('row', { name: new RegExp(APP_CALLBACK.replace(/[./]/g, '\\$&')) });
    assert.match(await row.innerText(), /Tools/, 'the page shows the client using it');
    await page.getByRole('link', { name: 'Clients' }).click();
    assert.match(await page.locator('main').innerText(), new RegExp(client.client_id));
    await screenshot(page, 'admin-clients');
  });

  test('revoke a grant: the client\'s refresh fails at once', async () => {
    const client = await registerClient(server.issuer, { client_name: 'Revokable', redirect_uris: [APP_CALLBACK], grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none' });
    const tokens = await connectAs(server, client, 'maya', 'maya password 123');
    assert.equal((await refresh(server.issuer, client, tokens.refreshToken)).status, 200);
    const current = (await server.auth.admin.grants.list({ clientId: client.client_id }))[0]!;
    await page.getByRole('link', { name: 'Connected apps' }).click();
    await page.getByRole('button', { name: 'Revoke Revokable for maya' }).click();
    assert.match(await page.getByRole('status').innerText(), /Access was revoked/);
    await screenshot(page, 'admin-grant-revoked');
    assert.equal(await server.auth.admin.grants.find(current.grantId), undefined);
    const left = await server.auth.database.get('SELECT id FROM oidc_models WHERE model = ? AND grant_id = ?', [storedModel('RefreshToken'), current.grantId]);
    assert.equal(left, undefined, 'no refresh token of the grant is left');
    const denied = await refresh(server.issuer, client, tokens.refreshToken);
    assert.equal(denied.status, 400);
  });

  test('create a service account: its secret is shown once and gets a client credentials token with its scopes', async () => {
    await page.getByRole('link', { name: 'Clients' }).click();
    await page.getByRole('link', { name: 'service accounts' }).click();
    await page.getByRole('heading', { name: 'Service accounts' }).waitFor();
    await page.getByLabel('Name').fill('Nightly report');
    await page.getByLabel('Authentication').selectOption('client_secret_basic');
    await page.getByRole('checkbox', { name: 'mcp:write' }).check();
    await page.getByRole('button', { name: 'Create service account' }).click();
    await page.getByRole('heading', { name: 'Service account created' }).waitFor();
    const clientId = (await page.locator('#created-client-id').innerText()).trim();
    const secret = (await page.locator('#created-client-secret').innerText()).trim();
    await screenshot(page, 'admin-service-account-created');
    const answer = await tokenRequest(server.issuer, { grant_type: 'client_credentials', resource: RESOURCE }, clientSecretBasic(clientId, secret));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.scope, 'mcp:read mcp:write');
    await page.getByRole('button', { name: 'Disable Nightly report' }).click();
    assert.match(await page.getByRole('status').innerText(), /The service account was changed/);
    assert.equal((await tokenRequest(server.issuer, { grant_type: 'client_credentials', resource: RESOURCE }, clientSecretBasic(clientId, secret))).body.error, 'unauthorized_client');
  });

  test('rotate the signing key: the new key signs, old and new tokens both verify', async () => {
    const client = await registerClient(server.issuer, { client_name: 'Keys', redirect_uris: [APP_CALLBACK], grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none' });
    const before = await connectAs(server, client, 'maya', 'maya password 123');
    await page.getByRole('link', { name: 'Keys' }).click();
    await page.getByRole('button', { name: /Rotate/ }).click();
    assert.match(await page.getByRole('status').innerText(), /Rotated: the next key \(already published\) signs from now on/);
    assert.equal(await page.getByRole('cell', { name: 'retiring' }).count(), 1);
    await screenshot(page, 'admin-keys-rotated');
    const after = await connectAs(server, client, 'maya', 'maya password 123');
    assert.notEqual(decodeProtectedHeader(after.accessToken).kid, decodeProtectedHeader(before.accessToken).kid);
    assert.ok(await verifies(before.accessToken), 'the old token verifies');
    assert.ok(await verifies(after.accessToken), 'the new token verifies');
  });

  test('the audit log shows what was done, and no page broke the CSP', async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Event').selectOption('key.rotated');
    await page.getByRole('button', { name: 'Filter' }).click();
    assert.equal(await page.getByRole('cell', { name: 'key.rotated' }).count(), 1);
    await screenshot(page, 'admin-audit');
    assert.deepEqual(violations, []);
  });
});
