/**
 * A refused admin form is shown again with what was typed, but never a pasted key: the page came
 * back with a private key in it whenever the refusal was about something else (a scope left out,
 * checked before the keys; a single JWK not wrapped in {"keys": …}; a PEM; the trusted-IdP form
 * when another field was wrong), though the page promises keys are never shown back.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { post, signInAt } from './support/admin-browser.ts';

let server: TestAuthServer;
before(async () => { server = await startAuthServer(); });
after(async () => { await server.close(); });

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = privateKey.export({ format: 'jwk' }) as Record<string, string>;
const privateSet = JSON.stringify({ keys: [{ ...jwk, kid: 'k1' }] });

test('a refused form never shows a pasted private key back, whatever the refusal was about', async () => {
  const admin = await signInAt(server, 'admin', ADMIN_PASSWORD, '/admin/service-accounts');
  const page = () => admin.browser.navigate('/admin/service-accounts');
  const cases: Array<[string, Record<string, string | string[]>]> = [
    ['private JWK Set, no scope ticked', { client_name: 'svc', token_endpoint_auth_method: 'private_key_jwt', jwks: privateSet }],
    ['bare private JWK (no "keys")', { client_name: 'svc', token_endpoint_auth_method: 'private_key_jwt', scope: ['mcp:read'], jwks: JSON.stringify(jwk) }],
    ['PEM private key', { client_name: 'svc', token_endpoint_auth_method: 'private_key_jwt', scope: ['mcp:read'], jwks: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string }],
  ];
  for (const [what, fields] of cases) {
    const answer = await post(admin.browser, await page(), '/admin/service-accounts', fields);
    assert.equal(answer.status, 400, what);
    assert.match(answer.html, /class="(form|field)-error"/, `${what}: the refusal is shown`);
    assert.ok(!answer.html.includes(jwk.d!.slice(0, 40)) && !answer.html.includes('BEGIN PRIVATE KEY'), `${what}: the private key is not in the page`);
    assert.ok(answer.html.includes('value="svc"'), `${what}: the other fields are kept`);
  }
  const idps = await admin.browser.navigate('/admin/trusted-idps');
  const answer = await post(admin.browser, idps, '/admin/trusted-idps', { issuer: 'not a url', jwks: privateSet, new_users: 'refuse' });
  assert.equal(answer.status, 400);
  assert.ok(!answer.html.includes(jwk.d!.slice(0, 40)), 'trusted IdP, a wrong issuer beside a private JWK Set: the key is not in the page');
});
