/**
 * An OPTIONS request to the auth-server names the same methods as a 405 on the same path
 * (RFC 9110 §9.3.7: Allow in an answer to OPTIONS; §15.5.6: a 405's Allow lists what the resource
 * supports), whether it is a plain OPTIONS or a browser's CORS preflight, which oidc-provider and
 * the registration CORS answer themselves (with Access-Control-Allow-Methods, and before the fix
 * without Allow). The resource server's counterpart is test/mcp/allow-on-every-path.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const ORIGIN = 'https://app.example';

describe('Allow on every path of the auth-server', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer();
  });
  after(() => server.close());

  // [path, the methods it serves, whether a browser may call it (a preflight gets CORS headers)]
  const paths: Array<[string, string, boolean]> = [
    ['/oauth/token', 'POST, OPTIONS', true],
    ['/oauth/register', 'POST, OPTIONS', true],
    ['/oauth/revoke', 'POST, OPTIONS', true],
    ['/oauth/introspect', 'POST, OPTIONS', true],
    ['/oauth/jwks', 'GET, HEAD, OPTIONS', true],
    ['/.well-known/oauth-authorization-server', 'GET, HEAD, OPTIONS', true],
    ['/.well-known/openid-configuration', 'GET, HEAD, OPTIONS', true],
    ['/oauth/authorize', 'GET, HEAD, OPTIONS', false],
    ['/healthz', 'GET, HEAD, OPTIONS', false],
  ];
  const asked: Array<[string, Record<string, string>]> = [
    ['a plain OPTIONS', {}],
    ['a CORS preflight for POST', { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST' }],
    ['a CORS preflight for GET', { Origin: ORIGIN, 'Access-Control-Request-Method': 'GET' }],
  ];
  for (const [path, allow, cors] of paths) {
    for (const [what, headers] of asked) {
      test(`${what} at ${path} answers Allow: ${allow}, as its 405 does`, async () => {
        const refused = await fetch(`${server.issuer}${path}`, { method: 'PUT', body: '{}' });
        assert.equal(refused.status, 405);
        assert.equal(refused.headers.get('allow'), allow, 'the 405');
        const options = await fetch(`${server.issuer}${path}`, { method: 'OPTIONS', headers });
        assert.equal(options.status, 204);
        assert.equal(options.headers.get('allow'), allow, 'the OPTIONS');
        // The preflight is still the provider's: what it lets a browser do is unchanged.
        const preflight = 'Origin' in headers;
        assert.equal(options.headers.has('access-control-allow-methods'), preflight && cors, 'a preflight answered with CORS headers where a browser may call');
      });
    }
  }
});
