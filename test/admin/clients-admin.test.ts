/**
 * The redirect URI allow-list, trusted document hosts and the clients pages over HTTP: changes
 * apply to the next registration without a restart; static clients get a secret shown once and
 * stored hashed; deleting a client stops its refresh tokens at once (and a delete that failed
 * part-way is finished by sending the form again); unused registrations purge.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { breakRevocationFeed } from '../helpers/break-revocation-feed.ts';
import { Browser, type PageResult } from '../helpers/browser.ts';
import { startDocumentServer, type DocumentServer } from '../helpers/document-server.ts';
import { authorizeUrl, clientSecretBasic, connect, redeem, refresh, register, registerClient, tokenRequest } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { auditEvents, connectAs, csrfOf, grantIdOf, post, RESOURCE, signInAt } from './support/admin-browser.ts';

const APP_CALLBACK = 'https://app.example.com/oauth/callback';

for (const backend of TEST_BACKENDS) describe(`admin pages: redirect URIs and clients (${backend})`, () => {
  let server: TestAuthServer;
  let docs: DocumentServer;
  let admin: { browser: Browser; page: PageResult };

  before(async () => {
    docs = await startDocumentServer();
    server = await startAuthServer({
      backend,
      metadataFetch: { dangerouslyAllowLoopback: true, ca: docs.ca },
      configure(config) {
        config.authServer.clientIdMetadataDocuments.trustedHosts = [];
        config.authServer.clientIdMetadataDocuments.untrustedHosts = 'refuse';
      },
    });
    admin = await signInAt(server, 'admin', ADMIN_PASSWORD, '/admin/redirect-uris');
  });
  after(async () => {
    await server?.close();
    await docs?.close();
  });

  const redirectsPage = () => admin.browser.navigate('/admin/redirect-uris');
  const clientsPage = () => admin.browser.navigate('/admin/clients');
  const appBody = { client_name: 'App', redirect_uris: [APP_CALLBACK], grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none' };

  test('an allowed redirect URI applies to the next registration, without a restart; removing it applies too', async () => {
    const before = await register(server.issuer, appBody);
    assert.equal(before.status, 400);
    assert.equal((await before.json() as { error: string }).error, 'invalid_redirect_uri');

    const added = await post(admin.browser, await redirectsPage(), '/admin/redirect-uris', { uri: APP_CALLBACK });
    assert.match(added.html, /The redirect URI was allowed/);
    const registered = await registerClient(server.issuer, appBody);
    const listed = await redirectsPage();
    const row = listed.html.slice(listed.html.indexOf(`<code>${APP_CALLBACK}</code>`));
    assert.match(row.slice(0, 600), /<li>App<\/li>/, 'the page shows which clients use it');
    assert.equal((await auditEvents(server, 'redirect_uri.allowed'))[0]!.details.uri, APP_CALLBACK);

    await post(admin.browser, listed, '/admin/redirect-uris/remove', { uri: APP_CALLBACK });
    assert.equal((await register(server.issuer, appBody)).status, 400, 'the next registration is refused again');
    await connectAs(server, registered, 'admin', ADMIN_PASSWORD);
  });

  const uriRefusals: Array<[string, number, RegExp]> = [
    ['http://127.0.0.1:8080/callback', 400, /always allowed/],
    ['cursor://anysphere.cursor-mcp/oauth/callback', 400, /Only https redirect URIs/],
    ['https://app.example.com/cb#fragment', 400, /fragment/],
    ['https://user:pw@app.example.com/cb', 400, /user name or password/],
    ['not a uri', 400, /not an absolute https URI/],
    // Matching is exact: a pattern would be "allowed" and match nothing.
    ['https://*.example.com/cb', 400, /<p class="field-error" id="allowRedirectUri-uri-error">Redirect URIs are matched exactly; wildcards are not supported\./],
    ['https://app.example.org/*', 400, /<p class="field-error" id="allowRedirectUri-uri-error">Redirect URIs are matched exactly; wildcards are not supported\./],
    ['https://*/cb', 400, /wildcards are not supported/],
    ['https://app.example.org/a*b/cb', 400, /wildcards are not supported/],
  ];
  for (const [uri, status, message] of uriRefusals) {
    test(`the allow-list refuses ${uri} with a clear message`, async () => {
      const page = await post(admin.browser, await redirectsPage(), '/admin/redirect-uris', { uri });
      assert.equal(page.status, status);
      assert.match(page.html, message);
      assert.doesNotMatch(page.html, /The redirect URI was allowed/);
    });
  }

  test('a built-in default redirect URI cannot be removed here: the page says which config key removes it', async () => {
    // The page offers no remove button for it; the form is posted anyway, with the page's token.
    const list = await redirectsPage();
    const page = await admin.browser.submit('/admin/redirect-uris/remove', { csrf: csrfOf(list, '/admin/redirect-uris'), uri: 'https://claude.ai/api/mcp/auth_callback' }, list.url);
    assert.equal(page.status, 409);
    assert.match(page.html, /is a built-in default; to remove it, list only the entries to keep under auth_server\.registration\.allowed_redirect_uris in the config file/);
    assert.equal((await register(server.issuer, { ...appBody, redirect_uris: ['https://claude.ai/api/mcp/auth_callback'] })).status, 201);
  });

  test('an allowed private-use scheme applies to the next registration; a dangerous one is refused on the page', async () => {
    const body = { ...appBody, redirect_uris: ['myapp://callback'] };
    assert.equal((await register(server.issuer, body)).status, 400);
    const added = await post(admin.browser, await redirectsPage(), '/admin/redirect-schemes', { scheme: 'myapp' });
    assert.match(added.html, /The scheme was allowed/);
    assert.match(added.html, /<code>myapp:<\/code>/);
    assert.equal((await register(server.issuer, body)).status, 201);
    assert.equal((await auditEvents(server, 'redirect_scheme.allowed'))[0]!.details.scheme, 'myapp');
    const refused = await post(admin.browser, await redirectsPage(), '/admin/redirect-schemes', { scheme: 'microsoft-edge' });
    assert.equal(refused.status, 400);
    assert.match(refused.html, /never allowed/);
    await post(admin.browser, await redirectsPage(), '/admin/redirect-schemes/remove', { scheme: 'myapp' });
    assert.equal((await register(server.issuer, body)).status, 400, 'the next registration is refused again');
  });

  test('trusting a document host lets its Client ID Metadata Document clients in at once; the client is then listed and can be deleted', async () => {
    const callback = 'http://127.0.0.1:47001/callback';
    const clientId = docs.json('/cimd-app.json', { client_id: `${docs.origin}/cimd-app.json`, client_name: 'Metadata App', redirect_uris: [callback], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' });
    const open = () => new Browser(server.issuer).navigate(authorizeUrl(server.issuer, { clientId, redirectUri: callback, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
    assert.equal((await open()).status, 400, 'an untrusted host is refused');

    const trusted = await post(admin.browser, await redirectsPage(), '/admin/trusted-hosts', { host: new URL(docs.origin).host });
    assert.match(trusted.html, /The host was trusted/);
    assert.match((await open()).html, /name="password"/, 'the sign-in page now');

    const cimd = { client_id: clientId, redirect_uris: [callback] };
    const result = await connect(server.issuer, { clientId, redirectUri: callback, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    const tokens = await redeem(server.issuer, cimd, result);
    assert.equal(tokens.status, 200);
    const list = await clientsPage();
    assert.match(list.html, /Metadata App/);
    assert.match(list.html, /<td>cimd<\/td>/);

    const deleted = await post(admin.browser, list, '/admin/clients/delete', { client_id: clientId });
    assert.match(deleted.html, /The client was deleted/);
    assert.equal((await refresh(server.issuer, cimd, tokens.body.refresh_token as string)).status, 400, 'its grant was revoked');

    await post(admin.browser, await redirectsPage(), '/admin/trusted-hosts/remove', { host: new URL(docs.origin).host });
    assert.equal((await open()).status, 400, 'refused again once the host is removed');
  });

  test('a static client marked as resource server on the page may introspect another client\'s token; a public one cannot be marked', async () => {
    const page = await post(admin.browser, await clientsPage(), '/admin/clients', {
      client_name: 'Reports API', client_id: 'reports-api', token_endpoint_auth_method: 'client_secret_post',
      redirect_uris: 'https://reports.example.com/cb', resource_server: 'yes',
    });
    assert.equal(page.status, 201);
    const secret = /id="created-client-secret">([^<]+)</.exec(page.html)![1]!;
    const row = page.html.slice(page.html.indexOf('<code class="note">reports-api</code>') - 300);
    assert.match(row.slice(0, 900), /resource server<\/span>/, 'the list marks it');

    const app = await registerClient(server.issuer);
    const tokens = await connectAs(server, app, 'admin', ADMIN_PASSWORD);
    const introspected = await tokenIntrospection({ token: tokens.refreshToken, client_id: 'reports-api', client_secret: secret });
    assert.equal(introspected.active, true);
    assert.equal(introspected.client_id, app.client_id);

    const refused = await post(admin.browser, await clientsPage(), '/admin/clients', {
      client_name: 'Public API', token_endpoint_auth_method: 'none', redirect_uris: 'https://public.example.com/cb', resource_server: 'yes',
    });
    assert.equal(refused.status, 400);
    assert.match(refused.html, /A resource server must be a confidential client/);
  });

  test('the upstream audiences of a resource server are set on the page, one per line, and listed with it; our own resource is refused', async () => {
    const page = await post(admin.browser, await clientsPage(), '/admin/clients', {
      client_name: 'Gateway', client_id: 'gateway-rs', token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: 'https://gw.example.com/cb', resource_server: 'yes',
      upstream_audiences: 'http://127.0.0.1:3001/mcp\r\nhttps://tools.example.com/mcp\n',
    });
    assert.equal(page.status, 201, page.html.slice(0, 400));
    assert.deepEqual((await server.auth.admin.clients.find('gateway-rs'))?.upstreamAudiences, ['http://127.0.0.1:3001/mcp', 'https://tools.example.com/mcp']);
    const row = page.html.slice(page.html.indexOf('<code class="note">gateway-rs</code>'));
    assert.match(row.slice(0, 1200), /<code>https:\/\/tools\.example\.com\/mcp<\/code>/);

    const refused = await post(admin.browser, await clientsPage(), '/admin/clients', {
      client_name: 'Bad gateway', token_endpoint_auth_method: 'client_secret_basic', redirect_uris: 'https://bad.example.com/cb', resource_server: 'yes',
      upstream_audiences: server.config.authServer.resource,
    });
    assert.equal(refused.status, 400);
    assert.match(refused.html, /Upstream audience refused/);
  });

  async function tokenIntrospection(params: Record<string, string>): Promise<Record<string, unknown>> {
    const response = await fetch(`${server.issuer}/oauth/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params) });
    assert.equal(response.status, 200);
    return await response.json() as Record<string, unknown>;
  }

  test('a static client: the secret is shown once, stored only as a hash, and authenticates at /token', async () => {
    const page = await post(admin.browser, await clientsPage(), '/admin/clients', {
      client_name: 'Internal <b>dashboard</b>',
      client_id: 'dashboard',
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: `${APP_CALLBACK}\nhttp://127.0.0.1/callback`,
    });
    assert.equal(page.status, 201);
    const secret = /id="created-client-secret">([^<]+)</.exec(page.html)?.[1];
    assert.ok(secret && secret.length >= 43, 'the secret is on the page');
    assert.match(page.html, /Internal &lt;b&gt;dashboard&lt;\/b&gt;/, 'names are escaped');
    assert.equal((await clientsPage()).html.includes(secret), false, 'never shown again');
    const { payload: stored } = (await server.auth.database.get<{ payload: string }>("SELECT payload FROM oidc_models WHERE model = 'Client' AND id = 'dashboard'"))!;
    assert.ok(!stored.includes(secret), 'the secret itself is not stored');
    assert.match(JSON.parse(stored).client_secret, /^sha256:/);

    const result = await connect(server.issuer, { clientId: 'dashboard', redirectUri: APP_CALLBACK, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    const params = { grant_type: 'authorization_code', code: result.code, code_verifier: result.verifier, redirect_uri: APP_CALLBACK };
    const wrong = await tokenRequest(server.issuer, params, clientSecretBasic('dashboard', `${secret}x`));
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'invalid_client');
    const right = await tokenRequest(server.issuer, params, clientSecretBasic('dashboard', secret));
    assert.equal(right.status, 200, JSON.stringify(right.body));
    const refreshed = await tokenRequest(server.issuer, { grant_type: 'refresh_token', refresh_token: right.body.refresh_token as string }, clientSecretBasic('dashboard', secret));
    assert.equal(refreshed.status, 200);
    assert.equal((await auditEvents(server, 'client.created'))[0]!.clientId, 'dashboard');

    const duplicate = await post(admin.browser, await clientsPage(), '/admin/clients', { client_name: 'Again', client_id: 'dashboard', redirect_uris: APP_CALLBACK });
    assert.equal(duplicate.status, 409);
  });

  test('a public static client needs no secret and uses PKCE', async () => {
    const page = await post(admin.browser, await clientsPage(), '/admin/clients', { client_name: 'CLI tool', token_endpoint_auth_method: 'none', redirect_uris: 'http://127.0.0.1/callback' });
    assert.equal(page.status, 201);
    assert.doesNotMatch(page.html, /created-client-secret/);
    const clientId = /id="created-client-id">([^<]+)</.exec(page.html)![1]!;
    await connectAs(server, { client_id: clientId, redirect_uris: ['http://127.0.0.1:40123/callback'] }, 'admin', ADMIN_PASSWORD);
  });

  test('static clients are refused with a clear message for unsafe redirect URIs', async () => {
    for (const [uris, message] of [['javascript:alert(1)', /javascript: scheme is never allowed/], ['http://app.example.com/cb', /only allowed on loopback/], ['', /A client needs 1 to 20 redirect URIs/]] as const) {
      const page = await post(admin.browser, await clientsPage(), '/admin/clients', { client_name: 'Bad', redirect_uris: uris });
      assert.equal(page.status, 400, uris);
      assert.match(page.html, message);
    }
  });

  test('deleting a DCR client makes its refresh token fail at once and registers nothing else', async () => {
    const client = await registerClient(server.issuer);
    const tokens = await connectAs(server, client, 'admin', ADMIN_PASSWORD);
    const list = await clientsPage();
    assert.match(list.html, new RegExp(client.client_id));
    const page = await post(admin.browser, list, '/admin/clients/delete', { client_id: client.client_id });
    assert.match(page.html, /The client was deleted and its grants revoked/);
    assert.doesNotMatch(page.html, new RegExp(client.client_id));
    const refreshed = await refresh(server.issuer, client, tokens.refreshToken);
    assert.equal(refreshed.status, 401, 'the client itself is gone');
    assert.equal(refreshed.body.error, 'invalid_client');
    const [event] = (await auditEvents(server, 'client.deleted'));
    assert.equal(event!.clientId, client.client_id);
    assert.equal(event!.details.grants_revoked, 1);
  });

  test('a delete whose grant revocation failed is finished by sending the form again: the client goes, its grant with it', async () => {
    const client = await registerClient(server.issuer);
    const tokens = await connectAs(server, client, 'admin', ADMIN_PASSWORD);
    const grantId = await grantIdOf(server, tokens.refreshToken);
    const list = await clientsPage();

    // The feed refuses the grant's entry (a full disk, a lost connection would fail the same insert).
    const feed = await breakRevocationFeed(server.auth.database, 'grant');
    let failed: PageResult;
    try {
      failed = await post(admin.browser, list, '/admin/clients/delete', { client_id: client.client_id });
    } finally {
      await feed.restore();
    }
    assert.equal(failed.status, 500);
    assert.ok(await server.auth.admin.grants.find(grantId), 'the grant could not be revoked');

    // The same form sent again (the admin's answer to the error page).
    const again = await post(admin.browser, list, '/admin/clients/delete', { client_id: client.client_id });
    assert.equal(again.status, 200, again.html.slice(0, 500));
    assert.match(again.html, /The client was deleted and its grants revoked/);
    assert.doesNotMatch(again.html, new RegExp(client.client_id));
    assert.equal(await server.auth.admin.grants.find(grantId), undefined, 'the grant is revoked');
    assert.notEqual((await refresh(server.issuer, client, tokens.refreshToken)).status, 200);
  });

  test('unused registrations are marked and purged; used ones stay', async () => {
    const used = await registerClient(server.issuer);
    await connectAs(server, used, 'admin', ADMIN_PASSWORD);
    const unused = [await registerClient(server.issuer), await registerClient(server.issuer)];
    const list = await clientsPage();
    for (const client of unused) {
      const row = list.html.slice(list.html.indexOf(client.client_id));
      assert.match(row.slice(0, 800), /unused<\/span>/);
    }
    assert.match(list.html, /Delete \d+ unused registrations/);
    const page = await post(admin.browser, list, '/admin/clients/purge-unused');
    assert.match(page.html, /Unused registrations were deleted/);
    for (const client of unused) assert.doesNotMatch(page.html, new RegExp(client.client_id));
    assert.match(page.html, new RegExp(used.client_id));
    assert.equal((await register(server.issuer, { ...appBody, redirect_uris: ['https://claude.ai/api/mcp/auth_callback'] })).status, 201, 'registration still works');
  });
});
