/**
 * The service accounts page over HTTP (real auth-server, the real forms with their CSRF tokens):
 * an administrator creates a machine client with a pasted JWK Set or a generated secret (shown
 * once, stored hashed), changes its scopes, disables and enables it, deletes it; each change is
 * audited and takes effect at the token endpoint at once. Bad input is refused with a message
 * naming the field, and what a user typed is escaped, never rendered as markup.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Browser, PageResult } from '../helpers/browser.ts';
import { clientSecretBasic, tokenRequest } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { auditEvents, post, RESOURCE, saveScopes, signInAt } from './support/admin-browser.ts';

for (const backend of TEST_BACKENDS) describe(`admin pages: service accounts (${backend})`, () => {
  let server: TestAuthServer;
  let admin: { browser: Browser; page: PageResult };
  const servicesPage = () => admin.browser.navigate('/admin/service-accounts');
  const idOn = (page: PageResult) => /id="created-client-id">([^<]+)</.exec(page.html)?.[1];
  const secretOn = (page: PageResult) => /id="created-client-secret">([^<]+)</.exec(page.html)?.[1];
  const bySecret = (clientId: string, secret: string, scope?: string) => tokenRequest(server.issuer, {
    grant_type: 'client_credentials', resource: RESOURCE, ...(scope ? { scope } : {}),
  }, clientSecretBasic(clientId, secret));

  before(async () => {
    server = await startAuthServer({ backend });
    admin = await signInAt(server, 'admin', ADMIN_PASSWORD, '/admin/service-accounts');
  });
  after(() => server?.close());

  test('a secret service account: created with its secret shown once, rescoped, disabled, enabled, deleted', async () => {
    const created = await post(admin.browser, await servicesPage(), '/admin/service-accounts', {
      client_name: 'Backup <job>', token_endpoint_auth_method: 'client_secret_basic', scope: ['mcp:read', 'mcp:write'],
    });
    assert.equal(created.status, 201, created.html.slice(0, 500));
    assert.ok(created.html.includes('Backup &lt;job&gt;'), 'the name is escaped');
    assert.ok(!created.html.includes('Backup <job>'));
    const clientId = idOn(created)!;
    const secret = secretOn(created)!;
    assert.ok(clientId.startsWith('svc-') && secret.length >= 43, created.html.slice(0, 300));
    assert.equal(secretOn(await servicesPage()), undefined, 'the secret is shown once');
    assert.equal(decodeJwt((await bySecret(clientId, secret)).body.access_token as string).scope, 'mcp:read mcp:write');
    const [event] = await auditEvents(server, 'client.created');
    assert.equal(event!.clientId, clientId);
    assert.equal(event!.details.service_account, true);
    assert.ok(!JSON.stringify(event).includes(secret), 'the audit never carries the secret');

    await saveScopes(admin.browser, await servicesPage(), '/admin/service-accounts/scopes', ['mcp:read'], clientId);
    assert.equal((await bySecret(clientId, secret, 'mcp:write')).body.error, 'invalid_scope');
    assert.equal((await auditEvents(server, 'service_account.scopes_changed'))[0]!.details.to, 'mcp:read');

    const disabled = await post(admin.browser, await servicesPage(), '/admin/service-accounts/disable', { client_id: clientId });
    assert.match(disabled.html, /disabled/);
    assert.equal((await bySecret(clientId, secret)).body.error, 'unauthorized_client');
    await post(admin.browser, await servicesPage(), '/admin/service-accounts/enable', { client_id: clientId });
    assert.equal((await bySecret(clientId, secret)).status, 200);
    assert.equal((await auditEvents(server, 'service_account.disabled')).length, 1);

    await post(admin.browser, await servicesPage(), '/admin/clients/delete', { client_id: clientId });
    assert.equal((await bySecret(clientId, secret)).body.error, 'invalid_client');
    assert.ok(!(await servicesPage()).html.includes(clientId));
  });

  test('a service accounts page opened before another change of an account\'s scopes cannot undo it', async () => {
    const { clientId } = await server.auth.admin.serviceAccounts.create({ name: 'Reports', authMethod: 'client_secret_basic', scopes: ['mcp:read', 'mcp:write'] }, { actor: { name: 'test' } });
    const stalePage = await servicesPage();
    await server.auth.admin.serviceAccounts.setScopes(clientId, ['mcp:read'], { actor: { name: 'cli' } });
    const changes = async () => (await auditEvents(server, 'service_account.scopes_changed')).filter((e) => e.clientId === clientId);
    // The page showed mcp:read and mcp:write; the admin ticks mcp:admin as well.
    const stale = await saveScopes(admin.browser, stalePage, '/admin/service-accounts/scopes', ['mcp:read', 'mcp:write', 'mcp:admin'], clientId);
    assert.equal(stale.status, 409);
    assert.ok(stale.html.includes(`id="setServiceAccountScopes-shown_scopes-error">The scopes of ${clientId} changed since the page was opened (now: mcp:read); nothing was saved.`), stale.html.slice(0, 300));
    assert.deepEqual((await server.auth.admin.clients.list()).find((c) => c.clientId === clientId)!.scopes, ['mcp:read']);
    assert.equal((await changes()).length, 1, 'only the first change is audited');
    assert.equal((await saveScopes(admin.browser, stale, '/admin/service-accounts/scopes', ['mcp:read', 'mcp:admin'], clientId)).status, 200);
    assert.deepEqual((await changes())[0]!.details, { from: 'mcp:read', to: 'mcp:read mcp:admin' });
    const blind = await post(admin.browser, await servicesPage(), '/admin/service-accounts/scopes', { client_id: clientId, scope: ['mcp:read'] });
    assert.equal(blind.status, 400, 'a form without the scopes its page showed');
    assert.equal((await changes()).length, 2);
  });

  test('a private_key_jwt service account from a pasted JWK Set gets tokens for assertions signed with its key', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...await exportJWK(publicKey), kid: 'k1', alg: 'ES256' };
    const created = await post(admin.browser, await servicesPage(), '/admin/service-accounts', {
      client_name: 'Indexer', client_id: 'indexer-bot', token_endpoint_auth_method: 'private_key_jwt', scope: ['mcp:read'],
      jwks: JSON.stringify({ keys: [jwk] }),
    });
    assert.equal(created.status, 201, created.html.slice(0, 500));
    assert.equal(idOn(created), 'indexer-bot');
    assert.equal(secretOn(created), undefined);
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ iss: 'indexer-bot', sub: 'indexer-bot', aud: server.issuer, iat: now, exp: now + 60, jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
    const answer = await tokenRequest(server.issuer, {
      grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion, resource: RESOURCE,
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(decodeJwt(answer.body.access_token as string).sub, 'indexer-bot');
  });

  const refusals: Array<[string, Record<string, string | string[]>, RegExp]> = [
    ['no name', { client_name: '', token_endpoint_auth_method: 'client_secret_basic', scope: 'mcp:read' }, /name/],
    ['no scope', { client_name: 'x', token_endpoint_auth_method: 'client_secret_basic' }, /scopes: a service account needs at least one scope/],
    ['an unknown scope', { client_name: 'x', token_endpoint_auth_method: 'client_secret_basic', scope: ['mcp:read', 'openid'] }, /scopes: openid is not one of/],
    ['an unknown auth method', { client_name: 'x', token_endpoint_auth_method: 'client_secret_jwt', scope: 'mcp:read' }, /auth_method: must be one of/],
    ['private_key_jwt without keys', { client_name: 'x', token_endpoint_auth_method: 'private_key_jwt', scope: 'mcp:read' }, /id="createServiceAccount-jwks-error">jwks: private_key_jwt needs the service&#39;s public keys: a JWK Set or an https jwks_uri serving one\. Without keys, choose client_secret_basic/],
    ['private_key_jwt with blank keys', { client_name: 'x', token_endpoint_auth_method: 'private_key_jwt', scope: 'mcp:read', jwks: '  ', jwks_uri: ' ' }, /jwks: private_key_jwt needs the service&#39;s public keys/],
    ['private_key_jwt with both a JWK Set and a jwks_uri', { client_name: 'x', token_endpoint_auth_method: 'private_key_jwt', scope: 'mcp:read', jwks: '{"keys":[]}', jwks_uri: 'https://keys.example.com/jwks' }, /jwks: private_key_jwt needs either a JWK Set or a jwks_uri, not both/],
    ['a JWK Set that is not JSON', { client_name: 'x', token_endpoint_auth_method: 'private_key_jwt', scope: 'mcp:read', jwks: '{keys:' }, /jwks: not valid JSON/],
    ['a private key', { client_name: 'x', token_endpoint_auth_method: 'private_key_jwt', scope: 'mcp:read', jwks: '{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","d":"secret"}]}' }, /private member &quot;d&quot;/],
    ['a symmetric key', { client_name: 'x', token_endpoint_auth_method: 'private_key_jwt', scope: 'mcp:read', jwks: '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}' }, /private member &quot;k&quot;/],
    ['an RSA key with a one-byte modulus', { client_name: 'x', token_endpoint_auth_method: 'private_key_jwt', scope: 'mcp:read', jwks: '{"keys":[{"kty":"RSA","n":"x","e":"AQAB"}]}' }, /jwks: a key is not a usable public key/],
    ['an EC key whose point is off the curve', { client_name: 'x', token_endpoint_auth_method: 'private_key_jwt', scope: 'mcp:read', jwks: '{"keys":[{"kty":"EC","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}' }, /jwks: a key is not a usable public key/],
    ['an http jwks_uri', { client_name: 'x', token_endpoint_auth_method: 'private_key_jwt', scope: 'mcp:read', jwks_uri: 'http://keys.example.com/jwks' }, /jwks_uri: must be an https URL/],
    ['a UUID as client id', { client_name: 'x', client_id: '0b6e1c1e-8f2c-4a59-9d1b-2a3f4c5d6e7f', token_endpoint_auth_method: 'client_secret_basic', scope: 'mcp:read' }, /client_id: .*not a UUID/],
    ['a taken client id', { client_name: 'x', client_id: 'gatehouse', token_endpoint_auth_method: 'client_secret_basic', scope: 'mcp:read' }, /already exists/],
  ];
  for (const [what, fields, message] of refusals) {
    test(`refuses ${what}, naming the field`, async () => {
      const page = await post(admin.browser, await servicesPage(), '/admin/service-accounts', fields);
      assert.ok(page.status === 400 || page.status === 409, `${page.status}`);
      assert.match(page.html, message);
      assert.ok(!page.html.includes('    at '), 'no stack trace');
    });
  }

  test('the forms need the page\'s CSRF token', async () => {
    const page = await admin.browser.submit('/admin/service-accounts', { csrf: 'forged', client_name: 'x', token_endpoint_auth_method: 'client_secret_basic', scope: 'mcp:read' }, (await servicesPage()).url);
    assert.equal(page.status, 403);
  });
});
