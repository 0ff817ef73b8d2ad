/**
 * A scope taken from a user on one auth-server replica, while another replica still answers from
 * its copy of the user (up to USER_FRESH_MS, user-store.ts) and mints a token with that scope on a
 * new grant: the token is refused by the revocation feed, as every token of the grants that held
 * the scope when it was removed is. An ID-JAG exchange makes the new grant (one per token); a
 * consent in flight would too. Date is held still so the other replica's copy stays fresh for as
 * long as the test needs, instead of racing the wall clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, mock, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { clientSecretBasic } from '../helpers/oauth-flow.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startEnterpriseIdp, type EnterpriseIdp } from '../helpers/start-enterprise-idp.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';
import { waitFor } from '../helpers/wait-for.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

describe('a scope removed on one replica while the other still holds the user', { skip: !TEST_BACKENDS.includes('postgres') && 'PostgreSQL is not among GATEHOUSE_TEST_BACKENDS' }, () => {
  let idp: EnterpriseIdp;
  let one: TestAuthServer;
  let two: TestAuthServer;
  let agent: { client_id: string; client_secret: string };

  before(async () => {
    idp = await startEnterpriseIdp('scoped');
    const databaseUrl = await createTestPostgresDatabase();
    one = await startAuthServer({ databaseUrl, metadataFetch: { dangerouslyAllowLoopback: true } });
    two = await startAuthServer({ databaseUrl, env: { ISSUER: one.issuer }, metadataFetch: { dangerouslyAllowLoopback: true } });
    const created = await one.auth.admin.clients.createStatic({ name: 'agent', redirectUris: ['https://agent.example/cb'], authMethod: 'client_secret_basic', idJag: true }, CLI);
    agent = { client_id: created.clientId, client_secret: created.clientSecret! };
    await one.auth.admin.trustedIdpAdmin.add({ issuer: idp.issuer, jwks_uri: idp.jwksUri, new_users: 'allow', default_scopes: ['mcp:read', 'mcp:write'] }, CLI);
  });
  after(async () => {
    mock.timers.reset();
    await two?.close();
    await one?.close();
    await idp?.close();
  });

  const exchange = async (replica: TestAuthServer, scope: string) => {
    const assertion = await idp.mint({ aud: one.issuer, client_id: agent.client_id, sub: 'writer', scope });
    const response = await fetch(`${replica.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...clientSecretBasic(agent.client_id, agent.client_secret) },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion, scope }).toString(),
    });
    return { status: response.status, body: await response.json() as { access_token?: string; scope?: string } };
  };

  /** Whether the feed refuses this access token, as a resource server following it would. */
  const refused = (accessToken: string) => {
    const claims = decodeJwt(accessToken) as { sub: string; client_id: string; gid: string; jti: string; iat: number };
    const { kid } = decodeProtectedHeader(accessToken);
    return one.auth.admin.revocations.refuses({ sub: claims.sub, clientId: claims.client_id, grantId: claims.gid, jti: claims.jti, kid: kid!, iat: claims.iat });
  };

  test('a token the other replica mints with the removed scope in that second is refused by the feed', async () => {
    const first = await exchange(two, 'mcp:read mcp:write');
    assert.equal(first.status, 200, `the user is created with both scopes: ${JSON.stringify(first.body)}`);
    const userId = decodeJwt(first.body.access_token!).sub!;

    // The second replica reads the user (as any of its requests does), and that copy stays fresh from here on.
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    await two.auth.users.findById(userId);
    const change = one.auth.admin.users.setScopes(userId, ['mcp:read'], CLI);
    // The grants holding mcp:write when it was removed are revoked: the first token is refused.
    await waitFor('the removal to revoke the first token\'s grant', () => refused(first.body.access_token!));
    const minted = await exchange(two, 'mcp:read mcp:write');
    await change;

    assert.equal(minted.status, 200, JSON.stringify(minted.body));
    assert.equal(minted.body.scope, 'mcp:read mcp:write', 'the race was held open: the second replica still granted mcp:write');
    assert.equal(await refused(minted.body.access_token!), true, 'the token carrying the removed scope is on the revocation feed');
    const holding = (await one.auth.admin.grants.list({ accountId: userId })).filter((g) => g.scopes.includes('mcp:write'));
    assert.deepEqual(holding, [], 'no grant holding mcp:write is left');
  });
});
