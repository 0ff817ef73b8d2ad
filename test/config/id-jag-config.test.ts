/**
 * `auth_server.id_jag` in the config file: no IdP by default (the grant is off), an IdP's fields
 * with their defaults, and refusals that name the field and what is expected.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../../apps/shared/config/load-config.ts';

describe('auth_server.id_jag', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-idjag-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const load = (yaml: string) => {
    const file = join(dir, 'gatehouse.yaml');
    writeFileSync(file, yaml);
    return loadConfig({ GATEHOUSE_CONFIG: file }, dir).authServer.idJag;
  };
  const idp = (fields: string) => `auth_server:\n  id_jag:\n    trusted_idps:\n      - { ${fields} }\n`;

  test('trusts no IdP unless one is listed', () => {
    assert.deepEqual(loadConfig({}, dir).authServer.idJag, { trustedIdps: [], clockSkew: 30, maxAssertionAge: 600 });
  });

  test('an IdP gets an id from its host, RS256 and ES256, new_users refuse and mcp:read by default', () => {
    const { trustedIdps, clockSkew } = load(`${idp('issuer: https://acme.okta.com, jwks_uri: https://acme.okta.com/oauth2/v1/keys')}    clock_skew: 1m\n`);
    assert.equal(clockSkew, 60);
    assert.deepEqual(trustedIdps, [{
      id: 'acme-okta-com', issuer: 'https://acme.okta.com', jwksUri: 'https://acme.okta.com/oauth2/v1/keys', jwks: undefined,
      algorithms: ['RS256', 'ES256'], newUsers: 'refuse', defaultScopes: ['mcp:read'], allowedClientIds: [],
    }]);
  });

  const refusals: Array<[string, string, RegExp]> = [
    ['neither jwks_uri nor jwks', idp('issuer: https://idp.example.com'), /trusted_idps\.0\.jwks_uri: expected exactly one of jwks_uri and jwks/],
    ['both jwks_uri and jwks', idp('issuer: https://idp.example.com, jwks_uri: https://idp.example.com/k, jwks: { keys: [{ kty: OKP, crv: Ed25519, x: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA }] }'), /exactly one of jwks_uri and jwks/],
    ['a plain-http issuer off loopback', idp('issuer: http://idp.example.com, jwks_uri: https://idp.example.com/k'), /issuer: expected the IdP issuer over https/],
    ['a plain-http jwks_uri off loopback', idp('issuer: https://idp.example.com, jwks_uri: http://idp.example.com/k'), /jwks_uri: expected jwks_uri over https/],
    ['HS256', idp('issuer: https://idp.example.com, jwks_uri: https://idp.example.com/k, algorithms: [HS256]'), /algorithms\.0: expected algorithms from RS256/],
    ['alg none', idp('issuer: https://idp.example.com, jwks_uri: https://idp.example.com/k, algorithms: [none]'), /algorithms\.0: expected algorithms from/],
    ['a private key inline', idp('issuer: https://idp.example.com, jwks: { keys: [{ kty: RSA, n: x, e: AQAB, d: secret }] }'), /public keys only/],
    ['a symmetric key inline', idp('issuer: https://idp.example.com, jwks: { keys: [{ kty: oct, k: c2VjcmV0 }] }'), /public keys only/],
    ['an RSA key with a one-byte modulus inline', idp('issuer: https://idp.example.com, jwks: { keys: [{ kty: RSA, n: x, e: AQAB }] }'), /jwks\.keys\.0: expected a usable public key/],
    ['an EC key off its curve inline', idp('issuer: https://idp.example.com, jwks: { keys: [{ kty: EC, crv: P-256, x: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA, y: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA }] }'), /jwks\.keys\.0: expected a usable public key/],
    ['an unknown new_users', idp('issuer: https://idp.example.com, jwks_uri: https://idp.example.com/k, new_users: maybe'), /new_users/],
    ['an unknown default scope', idp('issuer: https://idp.example.com, jwks_uri: https://idp.example.com/k, default_scopes: [root]'), /default_scopes\.0: expected scopes from mcp:read/],
    ['an unknown field', idp('issuer: https://idp.example.com, jwks_uri: https://idp.example.com/k, audience: x'), /audience/],
    [
      'the same issuer twice',
      'auth_server:\n  id_jag:\n    trusted_idps:\n      - { id: a, issuer: https://idp.example.com, jwks_uri: https://idp.example.com/k }\n      - { id: b, issuer: https://idp.example.com, jwks_uri: https://idp.example.com/k }\n',
      /each trusted IdP needs its own issuer and id/,
    ],
  ];
  for (const [name, yaml, message] of refusals) {
    test(`refuses ${name}, naming the field`, () => {
      assert.throws(() => load(yaml), message);
    });
  }
});
