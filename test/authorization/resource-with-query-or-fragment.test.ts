/**
 * A `resource` that is RESOURCE_URL plus a query, a fragment or both (issue 16, point 8): clients
 * copy the connector URL a user pasted, `?utm_source=…` and all, into `resource=` (RFC 8707 §2
 * forbids the fragment and discourages the query; we strip them, see
 * apps/auth-server/src/http/own-resource.ts). It is the same resource at /authorize, at the code
 * exchange and at every refresh, and the token's `aud` is always the configured URL exactly.
 * Another host or path with the same query stays `invalid_target`, and consumes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { Browser } from '../helpers/browser.ts';
import { connect, redeem, refresh, registerClient, startAuthorization, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const admin = { username: 'admin', password: ADMIN_PASSWORD };

const sameResource: Array<[string, string]> = [
  ['a query', `${RESOURCE}?utm_source=claude`],
  ['an empty query', `${RESOURCE}?`],
  ['a fragment', `${RESOURCE}#x`],
  ['a query and a fragment', `${RESOURCE}?utm_source=claude&utm_medium=connector#tools`],
  ['a trailing slash and a query', `${RESOURCE}/?utm_source=claude`],
  ['a trailing slash and a fragment', `${RESOURCE}/#`],
];

const otherResources: Array<[string, string]> = [
  ['another host with a query', 'https://evil.example/mcp?utm_source=claude'],
  ['another path with a query', `${RESOURCE}/other?utm_source=claude`],
  ['a longer path with a fragment', `${RESOURCE}x#x`],
  ['the origin with a query', 'http://localhost:4001/?x=1'],
  ['two trailing slashes and a query', `${RESOURCE}//?x=1`],
  ['our resource inside the query of another', `https://evil.example/?r=${RESOURCE}`],
];

describe('a resource with a query or a fragment is RESOURCE_URL (RFC 8707 §2, stripped for interop)', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  before(async () => {
    server = await startAuthServer();
    client = await registerClient(server.issuer);
  });
  after(() => server.close());

  for (const [name, resource] of sameResource) {
    test(`${name}: /authorize, code exchange and two refreshes all accept it, and aud is the configured URL`, async () => {
      const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource, ...admin });
      assert.equal(result.callback.searchParams.get('error'), null, result.callback.href);
      const tokens = await redeem(server.issuer, client, result, { resource });
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      assert.equal(decodeJwt(tokens.body.access_token as string).aud, RESOURCE);

      let refreshToken = tokens.body.refresh_token as string;
      for (let round = 1; round <= 2; round += 1) {
        const refreshed = await refresh(server.issuer, client, refreshToken, { resource });
        assert.equal(refreshed.status, 200, `refresh ${round}: ${JSON.stringify(refreshed.body)}`);
        assert.equal(decodeJwt(refreshed.body.access_token as string).aud, RESOURCE);
        refreshToken = refreshed.body.refresh_token as string;
      }
    });
  }

  for (const [name, resource] of otherResources) {
    test(`${name} is still invalid_target at /authorize`, async () => {
      const { page } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource, state: 'other-state' }, new Browser(server.issuer));
      assert.ok(page.status >= 300 && page.status < 400, `${page.status} ${page.html.slice(0, 300)}`);
      const callback = new URL(page.url);
      assert.equal(callback.searchParams.get('error'), 'invalid_target', callback.href);
      assert.equal(callback.searchParams.get('code'), null);
    });
  }

  test('another host or path with a query is invalid_target at the code exchange and at refresh, and consumes neither', async () => {
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, ...admin });
    for (const [name, resource] of otherResources) {
      const refused = await redeem(server.issuer, client, result, { resource });
      assert.equal(refused.status, 400, `${name}: ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.error, 'invalid_target', name);
      assert.equal(refused.body.access_token, undefined);
    }
    const tokens = await redeem(server.issuer, client, result, { resource: `${RESOURCE}?utm_source=claude` });
    assert.equal(tokens.status, 200, `a refused request consumed the code: ${JSON.stringify(tokens.body)}`);

    for (const [name, resource] of otherResources) {
      const refused = await refresh(server.issuer, client, tokens.body.refresh_token as string, { resource });
      assert.equal(refused.status, 400, `${name}: ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.error, 'invalid_target', name);
    }
    const refreshed = await refresh(server.issuer, client, tokens.body.refresh_token as string, { resource: `${RESOURCE}#x` });
    assert.equal(refreshed.status, 200, `a refused request consumed the refresh token: ${JSON.stringify(refreshed.body)}`);
    assert.equal(decodeJwt(refreshed.body.access_token as string).aud, RESOURCE);
  });
});
