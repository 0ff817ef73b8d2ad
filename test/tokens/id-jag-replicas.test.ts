/**
 * ID-JAG state shared by replicas: the replay store (MCP enterprise-managed authorization §7.4.2)
 * on both backends, claimed at once from two connections to one database, and, on PostgreSQL, two
 * auth-servers with one issuer on one database: an IdP an admin trusts on one is trusted by the
 * other, and one assertion presented to both at once is accepted exactly once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { IdJagReplays } from '../../apps/auth-server/src/id-jag/id-jag-replays.ts';
import { clientSecretBasic } from '../helpers/oauth-flow.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startEnterpriseIdp, type EnterpriseIdp } from '../helpers/start-enterprise-idp.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';
import { openTwoReplicas, type TwoReplicas } from '../helpers/two-replicas-database.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

for (const backend of TEST_BACKENDS) {
  describe(`the ID-JAG replay store (${backend})`, () => {
    let replicas: TwoReplicas;
    before(async () => {
      replicas = await openTwoReplicas(backend);
    });
    after(() => replicas?.close());

    test('of two replicas claiming one (issuer, jti) at once, exactly one gets it; another issuer\'s jti is its own', async () => {
      const first = new IdJagReplays(replicas.first);
      const second = new IdJagReplays(replicas.second);
      const exp = Math.floor(Date.now() / 1000) + 300;
      const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? first : second).claim('https://idp.example', 'jti-1', exp)));
      assert.equal(claims.filter(Boolean).length, 1);
      assert.equal(await second.claim('https://other-idp.example', 'jti-1', exp), true);
    });

    test('a claim is kept until it expires, then swept', async () => {
      const store = new IdJagReplays(replicas.first);
      const now = Math.floor(Date.now() / 1000);
      assert.equal(await store.claim('https://idp.example', 'short', now + 10), true);
      await store.sweep(now + 5);
      assert.equal(await store.claim('https://idp.example', 'short', now + 10), false, 'not before its expiry');
      await store.sweep(now + 11);
      assert.equal(await store.claim('https://idp.example', 'short', now + 10), true, 'gone after it');
    });
  });
}

describe('two auth-server replicas on one PostgreSQL', { skip: !TEST_BACKENDS.includes('postgres') && 'PostgreSQL is not among GATEHOUSE_TEST_BACKENDS' }, () => {
  let idp: EnterpriseIdp;
  let one: TestAuthServer;
  let two: TestAuthServer;
  let agent: { client_id: string; client_secret: string };

  before(async () => {
    idp = await startEnterpriseIdp('replicated');
    const databaseUrl = await createTestPostgresDatabase();
    one = await startAuthServer({ databaseUrl, metadataFetch: { dangerouslyAllowLoopback: true } });
    // The second replica answers on its own port under the same issuer, as behind a load balancer.
    two = await startAuthServer({ databaseUrl, env: { ISSUER: one.issuer }, metadataFetch: { dangerouslyAllowLoopback: true } });
    const created = await one.auth.admin.clients.createStatic({ name: 'agent', redirectUris: ['https://agent.example/cb'], authMethod: 'client_secret_basic', idJag: true }, CLI);
    agent = { client_id: created.clientId, client_secret: created.clientSecret! };
    await one.auth.admin.trustedIdpAdmin.add({ issuer: idp.issuer, jwks_uri: idp.jwksUri, new_users: 'allow' }, CLI);
  });
  after(async () => {
    await two?.close();
    await one?.close();
    await idp?.close();
  });

  const present = (replica: TestAuthServer, assertion: string) => fetch(`${replica.issuer}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...clientSecretBasic(agent.client_id, agent.client_secret) },
    body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString(),
  }).then(async (response) => ({ status: response.status, body: await response.json() as Record<string, unknown> }));

  test('jtis that differ only in a lone surrogate are refused, never taken for each other\'s replay', async () => {
    const mint = (jti: string) => idp.mint({ aud: one.issuer, client_id: agent.client_id, sub: 'replicated-user', scope: 'mcp:read' }, { claims: { jti } });
    for (const jti of ['twin-\ud800', 'twin-\ud801']) {
      const answer = await present(one, await mint(jti));
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error, 'invalid_grant');
      assert.match(String(answer.body.error_description), /jti/);
      assert.doesNotMatch(String(answer.body.error_description), /already used/);
    }
    // What PostgreSQL would have stored for both is a jti of its own, not yet used.
    const replacement = await present(two, await mint('twin-\ufffd'));
    assert.equal(replacement.status, 200, JSON.stringify(replacement.body));
  });

  test('an IdP trusted on one replica is trusted by the other, and one assertion sent to both at once is accepted once', async () => {
    const assertion = await idp.mint({ aud: one.issuer, client_id: agent.client_id, sub: 'replicated-user', scope: 'mcp:read' });
    const answers = await Promise.all([present(one, assertion), present(two, assertion)]);
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 400], JSON.stringify(answers));
    assert.equal(answers.find((a) => a.status === 400)!.body.error, 'invalid_grant');
    const fresh = await present(two, await idp.mint({ aud: one.issuer, client_id: agent.client_id, sub: 'replicated-user', scope: 'mcp:read' }));
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
  });
});
