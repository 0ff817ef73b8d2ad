/**
 * Drives the admin and account pages over HTTP like a browser: signs in through the real sign-in
 * page, reads CSRF tokens from the pages, posts their forms.
 */
import assert from 'node:assert/strict';
import { Browser, inputValue, type PageResult } from '../../helpers/browser.ts';
import { connect, redeem, signIn, type RegisteredClient } from '../../helpers/oauth-flow.ts';
import type { TestAuthServer } from '../../helpers/start-auth-server.ts';

/** Opens `path`, signs in on the page it is sent to, and returns where it lands (the page itself). */
export async function signInAt(server: TestAuthServer, username: string, password: string, path = '/admin', browser = new Browser(server.issuer)): Promise<{ browser: Browser; page: PageResult }> {
  const start = await browser.navigate(path);
  assert.match(start.url, /\/interaction\//, `expected the sign-in page, got ${start.status} ${start.url}`);
  const page = await signIn(browser, start, username, password);
  return { browser, page };
}

/** The CSRF token of the (first) form on `page` that posts to `action`. */
export function csrfOf(page: PageResult, action: string): string {
  const start = page.html.indexOf(`action="${action}"`);
  assert.ok(start >= 0, `no form posting to ${action} on ${page.url}`);
  const token = inputValue(page.html.slice(start), 'csrf');
  assert.ok(token, `no csrf token in the form posting to ${action}`);
  return token;
}

/** Posts the form of `page` whose action is `action`, with its CSRF token and `fields`. */
export async function post(browser: Browser, page: PageResult, action: string, fields: Record<string, string | string[]> = {}): Promise<PageResult> {
  return browser.submit(action, { csrf: csrfOf(page, action), ...fields }, page.url);
}

/**
 * Saves a scopes form of `page` as a browser does: with the scopes the page showed (its hidden
 * `shown_scopes`) and `scope` ticked. `clientId`: the service account whose form it is, on a page
 * with one scopes form per account.
 */
export async function saveScopes(browser: Browser, page: PageResult, action: string, scope: string | string[], clientId?: string): Promise<PageResult> {
  const forms = page.html.split(`action="${action}"`).slice(1).map((rest) => rest.slice(0, rest.indexOf('</form>')));
  const form = forms.find((html) => clientId === undefined || inputValue(html, 'client_id') === clientId);
  const shown = form === undefined ? undefined : inputValue(form, 'shown_scopes');
  assert.ok(shown !== undefined, `no scopes form posting to ${action} with the scopes it shows on ${page.url}`);
  return post(browser, page, action, { ...(clientId === undefined ? {} : { client_id: clientId }), shown_scopes: shown, scope });
}

/** Posts the Rotate form of the keys page as a browser does: naming the next key the page shows. */
export async function rotateFrom(browser: Browser, keysPage: PageResult): Promise<PageResult> {
  const form = keysPage.html.slice(keysPage.html.indexOf('action="/admin/keys/rotate"'));
  const nextKid = inputValue(form, 'next_kid');
  assert.ok(nextKid, 'the Rotate form names the next key');
  return post(browser, keysPage, '/admin/keys/rotate', { next_kid: nextKid });
}

/** Creates a user directly in the store (fast set-up for tests that are not about creating users). */
export async function createUser(server: TestAuthServer, username: string, password: string, scopes: string[]): Promise<string> {
  const user = (await server.auth.users.create({ username, passwordHash: await server.auth.hasher.hash(password), scopes }))!;
  return user.id;
}

export const RESOURCE = 'http://localhost:4001/mcp';

/** A DCR client signs `username` in (sign-in and consent pages) and redeems the code. */
export async function connectAs(server: TestAuthServer, client: RegisteredClient, username: string, password: string, scope = 'mcp:read'): Promise<{ accessToken: string; refreshToken: string }> {
  const result = await connect(server.issuer, { clientId: client.client_id, redirectUri: client.redirect_uris[0], scope, resource: RESOURCE, username, password });
  const tokens = await redeem(server.issuer, client, result);
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  return { accessToken: tokens.body.access_token as string, refreshToken: tokens.body.refresh_token as string };
}

/** The audit events of one kind, newest first. */
export function auditEvents(server: TestAuthServer, event: string) {
  return server.auth.admin.audit.query({ event });
}

/** The grant a refresh token belongs to (looked up through the provider: the row is keyed by a hash). */
export async function grantIdOf(server: TestAuthServer, refreshToken: string): Promise<string> {
  const grantId = (await server.auth.provider.RefreshToken.find(refreshToken))?.grantId;
  assert.ok(grantId, 'no such refresh token');
  return grantId;
}
