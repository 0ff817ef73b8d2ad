/**
 * Text that came from outside, shown on the sign-in, consent and admin pages, with every character
 * that steers a display written out (`\u202e`, `\u200f`, `\x1b`), never obeyed: a client's name
 * and redirect URIs (stored before the client_name and redirect URI rules, as older versions took
 * any), a username stored before the username rules, an audit event's actor, IP and details, and what a connection attempt records from
 * its request (the client id an unknown client gave, its User-Agent, redirect URI, scope) and its
 * reason, which quotes them; and a
 * client's name holding a lone surrogate, written out rather than shown as U+FFFD; who added an
 * allow-list entry or a trusted IdP (an administrator named before the username rules), and a
 * refusal at the top of a page, which quotes what the form sent. Rows are
 * written straight into the database, as such a database holds them; Chromium reads the pages.
 * The admin pages' own names (users, linked subjects) are test/admin/names-with-control-characters.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { changeClientMetadata } from '../../apps/auth-server/src/provider/database-adapter.ts';
import { interceptCallback, launchChromium, signInToAdmin } from '../helpers/chromium.ts';
import { authorizeUrl, CLAUDE_CALLBACK, CLAUDE_DCR_BODY, registerClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { STEERING } from '../helpers/steering-characters.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const PASSWORD = 'outside text password';

/** [what, the character, how the pages write it]. */
const CHARACTERS: Array<[string, string, string]> = [
  ['a right-to-left override', '\u202e', '\\u202e'],
  ['a right-to-left mark', '\u200f', '\\u200f'],
  ['an Arabic letter mark', '\u061c', '\\u061c'],
  ['a line separator', '\u2028', '\\u2028'],
  ['an escape sequence', '\u001b', '\\x1b'],
  ['a C1 control', '\u009b', '\\x9b'],
];

/**
 * A lone surrogate (JSON's `\ud83d` alone) only where the storage keeps one: a client's metadata is
 * stored as JSON, which writes it as `\ud83d` and reads it back; the users, audit and connection
 * tables store text as UTF-8, which has no encoding for it (U+FFFD, test/admin/audit-values).
 */
const LONE_SURROGATE_NAME = 'App\ud83dgnp.exe';
const LONE_SURROGATE_SHOWN = 'App\\ud83dgnp.exe';
const PLAIN_USERNAME = 'plain-user';

/**
 * The first steering character in the text Chromium shows, as U+XXXX, or undefined. Its own line
 * breaks and the tabs it puts between table cells are left out.
 */
function steering(text: string): string | undefined {
  const match = STEERING.exec(text.replace(/[\t\n]/g, ' '));
  return match ? `U+${match[0].charCodeAt(0).toString(16).padStart(4, '0')}` : undefined;
}

describe('text from outside on the pages, its steering characters written out', () => {
  let server: TestAuthServer;
  let chromium: Chromium;
  let admin: BrowserContext;
  let adminPage: Page;
  /** Per character: the client registered for it, the user, the connection attempt. */
  const made = new Map<string, { clientId: string; username: string; index: number }>();
  let loneSurrogateClientId: string;

  before(async () => {
    server = await startAuthServer();
    chromium = await launchChromium();
    admin = await chromium.newContext();
    adminPage = await admin.newPage();
    await signInToAdmin(adminPage, server.issuer, 'admin', ADMIN_PASSWORD);
    const passwordHash = bcrypt.hashSync(PASSWORD, 4);
    for (const [what, char] of CHARACTERS) {
      const clientId = (await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, client_name: 'placeholder' })).client_id;
      await changeClientMetadata(server.auth.database, clientId, (stored) => ({
        ...stored, client_name: `App${char}gnp.exe`, redirect_uris: [...stored.redirect_uris as string[], `https://app.example/cb${char}x`],
      }));
      const username = `eve${char}nimda`;
      const now = Date.now();
      await server.auth.database.run(`INSERT INTO users (id, username, password_hash, scopes, disabled, pending, email, source, created_at, updated_at)
        VALUES (@id, @username, @passwordHash, 'mcp:read', 0, 0, NULL, 'local', @now, @now)`, { id: randomUUID(), username, passwordHash, now });
      // The IP is the last X-Forwarded-For entry behind a proxy (TRUST_PROXY): text a proxy passed on.
      await server.auth.admin.audit.record({ event: 'client.registered', actor: { name: `mal${char}lory` }, ip: `203.0.113.9${char}`, clientId, details: { client_name: `App${char}gnp.exe` } });
      server.auth.connectionRecorder.record({
        step: 'authorization', outcome: 'refused', error: 'invalid_client', reasonCode: 'unknown_client', reason: `no client \`unknown${char}app\` here${char}`,
        clientId: `unknown${char}app`, ip: '203.0.113.7', userAgent: `Agent${char}007`, redirectUri: `https://app.example/cb${char}x`, scope: `mcp:read${char}x`,
        flowId: randomUUID(),
      });
      // Entries an administrator named before the username rules added: the pages name who added them.
      const index = made.size;
      const by = { actor: { name: `mal${char}lory` } };
      await server.auth.admin.redirectUris.add(`https://allowed${index}.example/cb`, by);
      await server.auth.admin.redirectSchemes.add(`myapp${index}`, by);
      await server.auth.admin.trustedHosts.add(`docs${index}.example`, by);
      await server.auth.admin.trustedIdpAdmin.add({ issuer: `https://idp${index}.example`, jwks_uri: `https://idp${index}.example/jwks`, new_users: 'refuse' }, by);
      made.set(what, { clientId, username, index });
    }
    loneSurrogateClientId = (await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, client_name: 'placeholder' })).client_id;
    await changeClientMetadata(server.auth.database, loneSurrogateClientId, (stored) => ({ ...stored, client_name: LONE_SURROGATE_NAME }));
    await server.auth.database.run(`INSERT INTO users (id, username, password_hash, scopes, disabled, pending, email, source, created_at, updated_at)
      VALUES (@id, @username, @passwordHash, 'mcp:read', 0, 0, NULL, 'local', @now, @now)`, { id: randomUUID(), username: PLAIN_USERNAME, passwordHash, now: Date.now() });
    await server.auth.admin.audit.flush();
    await server.auth.connectionRecorder.flush();
  });
  after(async () => {
    await admin?.close();
    await chromium?.close();
    await server?.close();
  });

  /** Opens `path` on the admin pages; returns the text Chromium shows. */
  async function adminText(path: string): Promise<string> {
    await adminPage.goto(`${server.issuer}${path}`);
    return adminPage.locator('body').innerText();
  }

  for (const [what, char, shown] of CHARACTERS) {
    test(`${what}: the sign-in and consent pages show the app's name and the username written out`, async () => {
      const { clientId, username } = made.get(what)!;
      const context = await chromium.newContext();
      try {
        const page = await context.newPage();
        await interceptCallback(page, CLAUDE_CALLBACK);
        const { challenge } = createPkce();
        await page.goto(authorizeUrl(server.issuer, { clientId, scope: 'mcp:read', resource: RESOURCE }, challenge).href);
        await page.getByLabel('Username').waitFor();
        const signIn = await page.locator('body').innerText();
        assert.equal(steering(signIn), undefined, `the sign-in page shows a raw steering character: ${JSON.stringify(signIn)}`);
        assert.ok(signIn.includes(`App${shown}gnp.exe`), `the sign-in page names the app written out: ${JSON.stringify(signIn)}`);
        await page.getByLabel('Username').fill(username);
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('button', { name: 'Allow' }).waitFor();
        const consent = await page.locator('body').innerText();
        assert.equal(steering(consent), undefined, `the consent page shows a raw steering character: ${JSON.stringify(consent)}`);
        assert.ok(consent.includes(`App${shown}gnp.exe wants to access your Gatehouse tools as eve${shown}nimda.`), JSON.stringify(consent));
      } finally {
        await context.close();
      }
    });

    test(`${what}: the clients and audit pages show the name, the redirect URIs, the actor, the IP and the details written out`, async () => {
      const clients = await adminText('/admin/clients');
      assert.equal(steering(clients), undefined, `the clients page shows a raw steering character: ${JSON.stringify(clients)}`);
      assert.ok(clients.includes(`App${shown}gnp.exe`), 'the clients page names the app written out');
      assert.ok(clients.includes(`https://app.example/cb${shown}x`), 'the clients page lists its redirect URI written out');
      await adminPage.getByRole('button', { name: `Delete App${shown}gnp.exe` }).waitFor();
      const audit = await adminText(`/admin/audit?event=client.registered`);
      assert.equal(steering(audit), undefined, `the audit page shows a raw steering character: ${JSON.stringify(audit)}`);
      assert.ok(audit.includes(`mal${shown}lory`), 'the audit page names the actor written out');
      assert.ok(audit.includes(`client_name: App${shown}gnp.exe`), `the details: ${JSON.stringify(audit)}`);
      assert.ok(audit.includes(`203.0.113.9${shown}`), 'the audit page shows the IP written out');
    });

    test(`${what}: the allow-list and trusted IdP pages name who added each entry written out`, async () => {
      const { index } = made.get(what)!;
      for (const [path, entry] of [['/admin/redirect-uris', `myapp${index}:`], ['/admin/trusted-idps', `https://idp${index}.example`]] as const) {
        const text = await adminText(path);
        assert.equal(steering(text), undefined, `${path} shows a raw steering character: ${JSON.stringify(text)}`);
        assert.ok(text.includes(entry), `${path} lists ${entry}`);
        assert.ok(text.includes(`mal${shown}lory, `), `${path} names who added it written out: ${JSON.stringify(text)}`);
      }
    });

    test(`${what}: a refusal shown at the top of the page quotes the form's text written out`, async () => {
      await adminPage.goto(`${server.issuer}/admin/clients`);
      // The form as a page older than a client's deletion, or one altered, would post it.
      const form = adminPage.locator('form[action="/admin/clients/delete"]').first();
      await form.locator('input[name="client_id"]').evaluate((input: HTMLInputElement, id) => { input.value = id; }, `gone${char}app`);
      await form.getByRole('button').click();
      const alert = await adminPage.getByRole('alert').innerText();
      assert.equal(steering(alert), undefined, `the refusal shows a raw steering character: ${JSON.stringify(alert)}`);
      assert.equal(alert, `Not saved: There is no client gone${shown}app.`);
    });

    test(`${what}: the overview page shows the latest events with nothing raw`, async () => {
      const overview = await adminText('/admin');
      assert.equal(steering(overview), undefined, `the overview shows a raw steering character: ${JSON.stringify(overview)}`);
    });

    test(`${what}: the connections page and the attempt's page show what the request sent written out`, async () => {
      const list = await adminText(`/admin/connections?client=${encodeURIComponent(`unknown${char}app`)}`);
      assert.equal(steering(list), undefined, `the connections page shows a raw steering character: ${JSON.stringify(list)}`);
      assert.ok(list.includes(`unknown${shown}app`), JSON.stringify(list));
      assert.ok(list.includes(`no client unknown${shown}app here${shown}`), `the reason written out: ${JSON.stringify(list)}`);
      await adminPage.locator('table.connections tbody a').first().click();
      await adminPage.getByRole('heading', { name: 'Connection attempt' }).waitFor();
      const attempt = await adminPage.locator('body').innerText();
      assert.equal(steering(attempt), undefined, `the attempt's page shows a raw steering character: ${JSON.stringify(attempt)}`);
      // The redirect URI is kept percent-encoded, as URL parsing writes it.
      for (const value of [`unknown${shown}app`, `Agent${shown}007`, `mcp:read${shown}x`, `no client unknown${shown}app here${shown}`]) {
        assert.ok(attempt.includes(value), `the attempt's page shows ${value}: ${JSON.stringify(attempt)}`);
      }
      assert.ok((await adminPage.title()).includes(`unknown${shown}app`), 'the title');
    });
  }

  test('a lone surrogate in a client\'s name: the sign-in, consent and clients pages write it out, never as U+FFFD', async () => {
    const context = await chromium.newContext();
    try {
      const page = await context.newPage();
      await interceptCallback(page, CLAUDE_CALLBACK);
      const { challenge } = createPkce();
      await page.goto(authorizeUrl(server.issuer, { clientId: loneSurrogateClientId, scope: 'mcp:read', resource: RESOURCE }, challenge).href);
      await page.getByLabel('Username').waitFor();
      const signIn = await page.locator('body').innerText();
      assert.ok(signIn.includes(`to continue to ${LONE_SURROGATE_SHOWN}`), `the sign-in page names the app written out: ${JSON.stringify(signIn)}`);
      assert.ok(!signIn.includes('\ufffd'), 'no replacement character on the sign-in page');
      await page.getByLabel('Username').fill(PLAIN_USERNAME);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Allow' }).waitFor();
      const consent = await page.locator('body').innerText();
      assert.ok(consent.includes(`${LONE_SURROGATE_SHOWN} wants to access your Gatehouse tools as ${PLAIN_USERNAME}.`), JSON.stringify(consent));
      assert.ok(!consent.includes('\ufffd'), 'no replacement character on the consent page');
    } finally {
      await context.close();
    }
    const clients = await adminText('/admin/clients');
    assert.ok(clients.includes(LONE_SURROGATE_SHOWN), 'the clients page names the app written out');
    assert.ok(!clients.includes('\ufffd'), 'no replacement character on the clients page');
    await adminPage.getByRole('button', { name: `Delete ${LONE_SURROGATE_SHOWN}` }).waitFor();
  });
});
