/**
 * Every admin form, filled in wrongly: the same page comes back (not an error page with no way
 * back) with the status of the refusal, what was typed kept (never a password), the whole message
 * next to the field it is about (aria-invalid, aria-describedby), and a fresh CSRF token that
 * works for the corrected post.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { inputValue, type Browser, type PageResult } from '../helpers/browser.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { csrfOf, post, signInAt } from './support/admin-browser.ts';
import { PAGE_ROUTES } from '../../apps/auth-server/src/web/page-routes.ts';

test('every form post names the page that shows its refusals, and that page is a GET of the same access', () => {
  for (const route of PAGE_ROUTES.filter((r) => r.method === 'POST')) {
    const page = PAGE_ROUTES.find((r) => r.method === 'GET' && r.handler === route.formPage);
    assert.ok(page, `${route.path} names no page (formPage)`);
    assert.equal(page.access, route.access, route.path);
  }
});

interface Case {
  what: string;
  /** The page holding the form, and the form's action. */
  page: string | (() => Promise<string>);
  action: string | (() => Promise<string>);
  fields: Record<string, string | string[]>;
  status: number;
  /** The route's handler and the field the message is about (none: shown at the top of the page). */
  form: string;
  field?: string;
  /** The message, or its start (when it names a value the test does not know). */
  message: string;
  /** A form with no button on the page (the entry is not removable there): post with this form's token. */
  tokenOf?: string;
  /** Exactly as the page must show the kept input (escaped HTML). */
  kept?: string[];
  /** Must not appear in the page (a password, a private key). */
  never?: string;
}

describe('admin forms refused: the form again, input kept, the error by the field', () => {
  let server: TestAuthServer;
  let admin: { browser: Browser; page: PageResult };
  const adminId = async () => (await server.auth.users.findByUsername('admin'))!.id;
  const retiringKid = async () => (await server.auth.admin.keys.list()).find((k) => k.status === 'retiring')!.kid;

  before(async () => {
    server = await startAuthServer();
    admin = await signInAt(server, 'admin', ADMIN_PASSWORD, '/admin/users');
    await server.auth.admin.clients.createStatic({ name: 'Taken', redirectUris: ['https://taken.example.com/cb'], authMethod: 'none', clientId: 'taken-client' }, { actor: { name: 'test' } });
  });
  after(async () => {
    await server?.close();
  });

  const cases: Case[] = [
    { what: 'a duplicate user', page: '/admin/users', action: '/admin/users', fields: { username: 'admin', password: 'a secret password 1', scope: ['mcp:read', 'mcp:write'] },
      status: 409, form: 'createUser', field: 'username', message: 'A user named admin already exists.', kept: ['value="admin"'], never: 'a secret password 1' },
    { what: 'a short password for a new user', page: '/admin/users', action: '/admin/users', fields: { username: 'new-person', password: 'short pw', scope: 'mcp:write' },
      status: 400, form: 'createUser', field: 'password', message: 'Passwords need at least 12 characters.', kept: ['value="new-person"', 'value="mcp:write" checked'], never: 'short pw' },
    { what: 'an unknown scope for a new user', page: '/admin/users', action: '/admin/users', fields: { username: 'scoped', password: 'long enough password', scope: 'mcp:everything' },
      status: 400, form: 'createUser', field: 'scope', message: 'Unknown scope mcp:everything; the scopes are mcp:read, mcp:write, mcp:admin.', kept: ['value="scoped"'] },
    { what: 'a short new password', page: async () => `/admin/users/${await adminId()}`, action: async () => `/admin/users/${await adminId()}/password`, fields: { password: 'tiny one' },
      status: 400, form: 'resetPassword', field: 'password', message: 'Passwords need at least 12 characters.', never: 'tiny one' },
    { what: 'dropping one\'s own mcp:admin', page: async () => `/admin/users/${await adminId()}`, action: async () => `/admin/users/${await adminId()}/scopes`, fields: { shown_scopes: 'mcp:read mcp:write mcp:admin', scope: 'mcp:read' },
      status: 409, form: 'setUserScopes', message: 'You cannot remove mcp:admin from yourself; ask another administrator.' },
    // A page saved before the form sent the scopes it showed, or a script: it might undo another administrator's change.
    { what: 'a scopes form that does not say which scopes its page showed', page: async () => `/admin/users/${await adminId()}`, action: async () => `/admin/users/${await adminId()}/scopes`, fields: { scope: 'mcp:read' },
      status: 400, form: 'setUserScopes', field: 'shown_scopes', message: 'The form did not say which scopes its page showed; open the page again and save its scopes form.' },
    { what: 'a redirect URI that is not a URL', page: '/admin/redirect-uris', action: '/admin/redirect-uris', fields: { uri: 'not a url' },
      status: 400, form: 'allowRedirectUri', field: 'uri', message: 'not a url is not an absolute https URI.', kept: ['value="not a url"'] },
    { what: 'a dangerous scheme', page: '/admin/redirect-uris', action: '/admin/redirect-schemes', fields: { scheme: 'javascript' },
      status: 400, form: 'allowRedirectScheme', field: 'scheme', message: 'The javascript: scheme opens a browser, runs content or starts a system handler; it is never allowed as a redirect URI.', kept: ['value="javascript"'] },
    { what: 'a host that is not a host name', page: '/admin/redirect-uris', action: '/admin/trusted-hosts', fields: { host: 'bad host/<x>' },
      status: 400, form: 'trustHost', field: 'host', message: 'bad host/&lt;x&gt; is not a host name (like claude.ai, or example.com:8443; an international name in its xn-- form).', kept: ['value="bad host/&lt;x&gt;"'] },
    { what: 'a host of 15,000 characters', page: '/admin/redirect-uris', action: '/admin/trusted-hosts', fields: { host: `${'a'.repeat(14_996)}.com` },
      status: 400, form: 'trustHost', field: 'host', message: 'Host names are limited to 253 characters.' },
    { what: 'a host with an empty label', page: '/admin/redirect-uris', action: '/admin/trusted-hosts', fields: { host: 'docs..example.com' },
      status: 400, form: 'trustHost', field: 'host', message: 'docs..example.com is not a host name (like claude.ai, or example.com:8443; an international name in its xn-- form).', kept: ['value="docs..example.com"'] },
    { what: 'a scheme of 15,000 characters', page: '/admin/redirect-uris', action: '/admin/redirect-schemes', fields: { scheme: `com.example.${'a'.repeat(14_988)}` },
      status: 400, form: 'allowRedirectScheme', field: 'scheme', message: 'Scheme names are limited to 100 characters.' },
    { what: 'removing a built-in redirect URI', page: '/admin/redirect-uris', action: '/admin/redirect-uris/remove', fields: { uri: 'https://claude.ai/api/mcp/auth_callback' }, tokenOf: '/admin/redirect-uris',
      status: 409, form: 'removeRedirectUri', message: 'https://claude.ai/api/mcp/auth_callback is a built-in default; to remove it, list only the entries to keep under auth_server.registration.allowed_redirect_uris in the config file ([] for none) and restart.' },
    { what: 'a client whose redirect URI is not a URL', page: '/admin/clients', action: '/admin/clients',
      fields: { client_name: 'My <app>', redirect_uris: 'https://app.example.com/cb\nnot a url', token_endpoint_auth_method: 'none', id_jag: 'yes' },
      status: 400, form: 'createStaticClient', field: 'redirect_uris', message: 'not a url was refused: redirect_uris must be absolute URIs.',
      kept: ['value="My &lt;app&gt;"', '>https://app.example.com/cb\nnot a url</textarea>', 'value="none" selected', 'name="id_jag" value="yes" checked'] },
    { what: 'a client id already taken', page: '/admin/clients', action: '/admin/clients', fields: { client_name: 'Second', client_id: 'taken-client', redirect_uris: 'https://second.example.com/cb' },
      status: 409, form: 'createStaticClient', field: 'client_id', message: 'A client with the id taken-client already exists.', kept: ['value="Second"', 'value="taken-client"', '>https://second.example.com/cb</textarea>'] },
    { what: 'a service account whose public keys are not JSON', page: '/admin/service-accounts', action: '/admin/service-accounts',
      fields: { client_name: 'Nightly <job>', token_endpoint_auth_method: 'private_key_jwt', scope: ['mcp:write'], jwks: '{not json' },
      status: 400, form: 'createServiceAccount', field: 'jwks', message: 'jwks: not valid JSON; paste a JWK Set such as {&quot;keys&quot;: [ … ]}.',
      // A pasted JWK Set is never shown back, whatever was wrong: it may hold a private key.
      kept: ['value="Nightly &lt;job&gt;"', 'value="mcp:write" checked'], never: '{not json' },
    { what: 'a service account whose JWK Set carries a private key', page: '/admin/service-accounts', action: '/admin/service-accounts',
      fields: { client_name: 'Signer', token_endpoint_auth_method: 'private_key_jwt', scope: 'mcp:read', jwks: '{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","d":"the-private-exponent-never-shown-again"}]}' },
      status: 400, form: 'createServiceAccount', field: 'jwks', message: 'jwks: a key carries the private member &quot;d&quot;; paste only the public keys.',
      kept: ['value="Signer"'], never: 'the-private-exponent-never-shown-again' },
    { what: 'a service account with a client id already taken', page: '/admin/service-accounts', action: '/admin/service-accounts',
      fields: { client_name: 'Reports', client_id: 'taken-client', token_endpoint_auth_method: 'client_secret_basic', scope: 'mcp:read' },
      status: 409, form: 'createServiceAccount', field: 'client_id', message: 'A client with the id taken-client already exists.', kept: ['value="taken-client"', 'value="client_secret_basic" selected'] },
    { what: 'an enterprise IdP over http', page: '/admin/trusted-idps', action: '/admin/trusted-idps', fields: { issuer: 'http://idp.example.com', jwks_uri: 'https://idp.example.com/jwks', new_users: 'pending', default_scopes: ['mcp:write'] },
      status: 400, form: 'addTrustedIdp', field: 'issuer', message: 'The IdP was refused: issuer: ', kept: ['value="http://idp.example.com"', 'value="https://idp.example.com/jwks"', 'value="pending" selected', 'value="mcp:write" checked'] },
    { what: 'an enterprise IdP whose keys carry a private key', page: '/admin/trusted-idps', action: '/admin/trusted-idps',
      fields: { issuer: 'https://idp.example.com', jwks: '{"keys":[{"kty":"EC","crv":"P-256","x":"AQAB","y":"AQAB","d":"the-idp-signing-key-never-shown-again"}]}', new_users: 'pending' },
      status: 400, form: 'addTrustedIdp', field: 'jwks', message: 'The IdP was refused: jwks: expected public keys only',
      kept: ['value="https://idp.example.com"'], never: 'the-idp-signing-key-never-shown-again' },
    { what: 'retiring a key whose tokens may be valid, unconfirmed', page: '/admin/keys', action: '/admin/keys/retire', fields: {},
      status: 409, form: 'retireKey', field: 'confirm', message: 'Tokens signed by ' },
  ];

  for (const c of cases) {
    test(`${c.what}: ${c.status}, the form again with the message by ${c.field ?? 'the top of the page'}`, async () => {
      if (c.form === 'retireKey') {
        await server.auth.admin.keys.rotate({ actor: { name: 'test' } });
        c.fields = { kid: await retiringKid() };
      }
      const pagePath = typeof c.page === 'string' ? c.page : await c.page();
      const action = typeof c.action === 'string' ? c.action : await c.action();
      const before = await admin.browser.navigate(pagePath);
      const refused = c.tokenOf
        ? await admin.browser.submit(action, { csrf: csrfOf(before, c.tokenOf), ...c.fields }, before.url)
        : await post(admin.browser, before, action, c.fields);
      assert.equal(refused.status, c.status, refused.html.slice(0, 500));
      assert.doesNotMatch(refused.html, /This request cannot continue/, 'not the error page');
      assert.ok(refused.html.includes(`action="${c.tokenOf ?? action}"`), 'the form is on the page again');
      if (c.field) {
        const id = `${c.form}-${c.field}-error`;
        const at = refused.html.indexOf(`id="${id}">`);
        assert.ok(at >= 0, `the message by the field (${id})`);
        assert.ok(refused.html.slice(at).startsWith(`id="${id}">${c.message}`), `the whole message: ${refused.html.slice(at, at + 200)}`);
        assert.match(refused.html, new RegExp(`aria-invalid="true" aria-describedby="[^"]*${id}"|aria-describedby="[^"]*${id}"[^>]*aria-invalid="true"`), 'the field points at its message');
      } else {
        assert.ok(refused.html.includes(`<p class="form-error" role="alert">Not saved: ${c.message}`), 'the message at the top of the page');
      }
      for (const kept of c.kept ?? []) assert.ok(refused.html.includes(kept), `keeps ${kept}`);
      if (c.never) assert.ok(!refused.html.includes(c.never), 'the secret is not sent back');
    });
  }

  // What a person reading the entry would not see as stored (controls, a bidi override, CR and LF,
  // which URL parsing drops, so the IdP would act as another URL than it shows), or no URL is.
  const hostileIdpFields: Array<[string, string, string]> = [
    ['issuer', 'a CR LF', 'https://idp.example.com/\r\ntenant'],
    ['issuer', 'a NUL', 'https://idp.example.com/\u0000'],
    ['issuer', 'an escape sequence', 'https://idp.example.com/\u001b[2J'],
    ['issuer', 'a bidi override', 'https://idp.example.com/\u202eneg'],
    ['issuer', 'a tab', 'https://idp.example.com/\ttenant'],
    ['issuer', '3000 characters', `https://idp.example.com/${'a'.repeat(2976)}`],
    ['jwks_uri', 'a CR LF', 'https://idp.example.com/\r\njwks'],
    ['jwks_uri', 'a NUL', 'https://idp.example.com/jwks\u0000'],
    ['jwks_uri', 'a bidi override', 'https://idp.example.com/\u202eskwj'],
    ['jwks_uri', '3000 characters', `https://idp.example.com/${'j'.repeat(2976)}`],
    ['allowed_client_ids', 'a NUL', 'agent\u0000x'],
    ['allowed_client_ids', 'an escape sequence', 'agent\u001b[2J'],
    ['allowed_client_ids', 'a bidi override', 'agent\u202e'],
  ];
  for (const [field, what, value] of hostileIdpFields) {
    test(`an enterprise IdP whose ${field} holds ${what}: 400 by the field, nothing stored`, async () => {
      const stored = async () => (await server.auth.admin.trustedIdps.list()).length;
      const before = await stored();
      const page = await admin.browser.navigate('/admin/trusted-idps');
      const refused = await post(admin.browser, page, '/admin/trusted-idps', {
        issuer: 'https://hostile.example.com', jwks_uri: 'https://hostile.example.com/jwks', new_users: 'refuse', [field]: value,
      });
      assert.equal(refused.status, 400, refused.html.slice(0, 300));
      assert.ok(refused.html.includes(`id="addTrustedIdp-${field}-error">The IdP was refused: ${field}`), 'the message by the field');
      assert.equal(await stored(), before, 'nothing stored');
    });
  }

  // Names as the admin lists show them: each of these would make one entry read as another (a
  // right-to-left override shows `\u202Eyalp` as `play`…), break the name over lines or vanish.
  const hostileNames: Array<[string, string]> = [
    ['a NUL', 'Billing\u0000 app'],
    ['an escape sequence', 'Billing\u001b[2J app'],
    ['a CR LF', 'Billing\r\nAdmin'],
    ['a tab', 'Billing\tapp'],
    ['a DEL', 'Billing\u007f app'],
    ['a C1 control (CSI)', 'Billing\u009b2J app'],
    ['a line separator', 'Billing\u2028Admin'],
    ['a paragraph separator', 'Billing\u2029Admin'],
    ['a left-to-right embedding', 'Billing \u202aapp'],
    ['a right-to-left embedding', 'Billing \u202bapp'],
    ['a pop directional formatting', 'Billing \u202capp'],
    ['a left-to-right override', 'Billing \u202dapp'],
    ['a right-to-left override', 'Billing \u202eppa'],
    ['a left-to-right isolate', 'Billing \u2066app'],
    ['a right-to-left isolate', 'Billing \u2067app'],
    ['a first-strong isolate', 'Billing \u2068app'],
    ['a pop directional isolate', 'Billing \u2069app'],
    ['a right-to-left mark', 'Billing\u200f app'],
    ['an Arabic letter mark', 'Billing\u061c app'],
  ];
  const nameForms: Array<[string, string, string, string, (name: string) => Promise<Record<string, string | string[]>>]> = [
    ['a static client', '/admin/clients', 'createStaticClient', 'A name must not contain control characters, line breaks or bidirectional formatting characters (they make it read as another name).',
      async (name) => ({ client_name: name, redirect_uris: 'https://named.example.com/cb', token_endpoint_auth_method: 'none' })],
    ['a service account', '/admin/service-accounts', 'createServiceAccount', 'name: A name must not contain control characters, line breaks or bidirectional formatting characters (they make it read as another name).',
      async (name) => ({ client_name: name, token_endpoint_auth_method: 'client_secret_basic', scope: 'mcp:read' })],
  ];
  for (const [what, path, form, message, fields] of nameForms) {
    for (const [holding, name] of hostileNames) {
      test(`${what} whose name holds ${holding}: 400 by the name, nothing created`, async () => {
        const before = (await server.auth.admin.clients.list()).length;
        const refused = await post(admin.browser, await admin.browser.navigate(path), path, await fields(name));
        assert.equal(refused.status, 400, refused.html.slice(0, 300));
        assert.ok(refused.html.includes(`id="${form}-client_name-error">${message}<`), 'the message by the name');
        assert.equal((await server.auth.admin.clients.list()).length, before, 'nothing created');
      });
    }
  }
  test('a name in another script, with a zero-width joiner as Persian and Indic names need, is taken as it is', async () => {
    const name = 'می\u200cخواهم क्‍ष';
    const created = await post(admin.browser, await admin.browser.navigate('/admin/clients'), '/admin/clients',
      { client_name: name, redirect_uris: 'https://persian.example.com/cb', token_endpoint_auth_method: 'none' });
    assert.equal(created.status, 201, created.html.slice(0, 300));
    assert.ok((await server.auth.admin.clients.list()).some((c) => c.name === name));
  });

  // A value pasted by mistake (a whole file, a 15,000-character line) is quoted back cut, so the
  // reason stays in sight: its first 200 characters, then …
  const long = (start: string) => `${start}${'x'.repeat(15_000 - start.length)}`;
  const pastedValues: Array<[string, string, string, Record<string, string>, number, string?]> = [
    ['a static client\'s redirect URI', '/admin/clients', '/admin/clients', { client_name: 'Long', redirect_uris: long('https://app.example/'), token_endpoint_auth_method: 'none' }, 400],
    ['a new user\'s scope', '/admin/users', '/admin/users', { username: 'pasted', password: 'long enough password', scope: long('mcp:') }, 400],
    ['a service account\'s scope', '/admin/service-accounts', '/admin/service-accounts', { client_name: 'Pasted', token_endpoint_auth_method: 'client_secret_basic', scope: long('mcp:') }, 400],
    ['the client to delete', '/admin/clients', '/admin/clients/delete', { client_id: long('client-') }, 404, '/admin/clients'],
    ['the redirect URI to remove', '/admin/redirect-uris', '/admin/redirect-uris/remove', { uri: long('https://app.example/') }, 404, '/admin/redirect-uris'],
    ['the host to stop trusting', '/admin/redirect-uris', '/admin/trusted-hosts/remove', { host: long('docs.') }, 404, '/admin/redirect-uris'],
    ['the IdP to remove', '/admin/trusted-idps', '/admin/trusted-idps/remove', { issuer: long('https://idp.example/') }, 404, '/admin/trusted-idps'],
    ['the key to retire', '/admin/keys', '/admin/keys/retire', { kid: long('kid-') }, 404, '/admin/keys/rotate'],
    ['the key a rotation names', '/admin/keys', '/admin/keys/rotate', { next_kid: long('kid-') }, 409],
  ];
  for (const [what, path, action, fields, status, tokenOf] of pastedValues) {
    test(`${what} of 15,000 characters is quoted back cut to 200, then …`, async () => {
      const page = await admin.browser.navigate(path);
      const refused = tokenOf
        ? await admin.browser.submit(action, { csrf: csrfOf(page, tokenOf), ...fields }, page.url)
        : await post(admin.browser, page, action, fields);
      assert.equal(refused.status, status, refused.html.slice(0, 300));
      const value = Object.values(fields).find((v) => v.length === 15_000)!;
      const message = /<p class="(?:field|form)-error"[^>]*>([^<]*)<\/p>/.exec(refused.html)?.[1] ?? '';
      assert.ok(message.includes(`${value.slice(0, 200)}…`), `its first 200 characters, then …: ${message.slice(0, 300)}`);
      assert.ok(!message.includes(value.slice(0, 201)), 'nothing more of it');
      assert.ok(message.length < 600, `the message is ${message.length} characters long`);
    });
  }

  // A double click, or back and send again: the second post must not make a twin.
  const createForms: Array<[string, string, string, () => Promise<Record<string, string | string[]>>]> = [
    ['a static client', 'the client', '/admin/clients', async () => ({ client_name: 'Twice', redirect_uris: 'https://twice.example.com/cb', token_endpoint_auth_method: 'client_secret_basic' })],
    ['a service account', 'the service account', '/admin/service-accounts', async () => ({
      client_name: 'Nightly twice', token_endpoint_auth_method: 'private_key_jwt', scope: 'mcp:admin',
      jwks: JSON.stringify({ keys: [await exportJWK((await generateKeyPair('ES256')).publicKey)] }),
    })],
  ];
  for (const [what, named, path, fields] of createForms) {
    test(`the form creating ${what}, sent twice, creates one: the second post says so`, async () => {
      const page = await admin.browser.navigate(path);
      const proposed = inputValue(page.html.slice(page.html.indexOf(`action="${path}"`)), 'proposed_client_id');
      assert.ok(proposed, 'the form proposes the id of what it creates');
      const before = (await server.auth.admin.clients.list()).length;
      const submitted = { ...(await fields()), proposed_client_id: proposed };

      const first = await post(admin.browser, page, path, submitted);
      assert.equal(first.status, 201, first.html.slice(0, 300));
      const second = await post(admin.browser, page, path, submitted);
      assert.equal(second.status, 409, 'the same form again');
      assert.ok(second.html.includes(`<p class="form-error" role="alert">Not saved: This form was sent already and created ${named} ${proposed} (listed on this page); nothing more was created.`));
      assert.equal((await server.auth.admin.clients.list()).length, before + 1, 'one was created');
      assert.ok(first.html.includes(`id="created-client-id">${proposed}<`), 'with the id the form proposed');
    });
  }

  test('the token of the page shown again works: the corrected post succeeds', async () => {
    const refused = await post(admin.browser, await admin.browser.navigate('/admin/redirect-uris'), '/admin/redirect-uris', { uri: 'not a url' });
    assert.equal(refused.status, 400);
    const corrected = await post(admin.browser, refused, '/admin/redirect-uris', { uri: 'https://fixed.example.com/callback' });
    assert.equal(corrected.status, 200);
    assert.match(corrected.html, /The redirect URI was allowed/);
  });

  test('a refused post that is not about a form (a user that does not exist) still gets the error page', async () => {
    const page = await admin.browser.navigate('/admin/users');
    const missing = await admin.browser.submit('/admin/users/no-such-user/disable', { csrf: csrfOf(page, '/admin/users') }, page.url);
    assert.equal(missing.status, 404);
    assert.match(missing.html, /There is no user no-such-user/);
  });
});
