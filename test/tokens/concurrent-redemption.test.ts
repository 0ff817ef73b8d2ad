/**
 * Two requests redeeming the same refresh token or code at the same instant, on one server and on
 * two replicas of one PostgreSQL database: exactly one gets tokens, the other invalid_grant (never
 * a 500), and the grant is revoked as for a replay the provider sees itself (its rows, and an
 * entry on the revocation feed that refuses the winner's access token).
 *
 * Each case is tried a few times: the requests race through the provider's awaits, and a pair
 * that happens to run one after the other must end the same way.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { CLAUDE_CALLBACK, connect, redeem, refresh, registerClient, type ConnectResult, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const ATTEMPTS = 4;

type TokenAnswer = Awaited<ReturnType<typeof refresh>>;

/** The one 200 and the one 400 of a pair, or an assertion error saying what came instead. */
function oneWinner(answers: TokenAnswer[]): { winner: TokenAnswer; loser: TokenAnswer } {
  const seen = answers.map((a) => (a.status === 200 ? '200 tokens' : `${a.status} ${String(a.body.error)}`));
  assert.deepEqual(answers.map((a) => a.status).sort(), [200, 400], `got ${seen.join(', ')}`);
  const winner = answers.find((a) => a.status === 200)!;
  const loser = answers.find((a) => a.status === 400)!;
  assert.equal(loser.body.error, 'invalid_grant');
  return { winner, loser };
}

/** Whether the revocation feed refuses this access token (as the resource server would). */
async function feedRefuses(server: TestAuthServer, accessToken: string): Promise<boolean> {
  const claims = decodeJwt(accessToken);
  return await server.auth.admin.revocations.refuses({
    sub: claims.sub!, clientId: claims.client_id as string, grantId: claims.gid as string, jti: claims.jti!,
    kid: decodeProtectedHeader(accessToken).kid!, iat: claims.iat!,
  });
}

async function signedInClient(server: TestAuthServer): Promise<{ client: RegisteredClient; result: ConnectResult }> {
  const client = await registerClient(server.issuer);
  const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
  return { client, result };
}

for (const backend of TEST_BACKENDS) describe(`concurrent redemption (${backend})`, () => {
  let server: TestAuthServer;

  before(async () => {
    server = await startAuthServer({ backend });
  });
  after(() => server.close());

  test('the same refresh token sent twice at once: one 200, one invalid_grant, and the family is revoked', async () => {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const { client, result } = await signedInClient(server);
      const tokens = await redeem(server.issuer, client, result);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      const refreshToken = tokens.body.refresh_token as string;

      const { winner } = oneWinner(await Promise.all([refresh(server.issuer, client, refreshToken), refresh(server.issuer, client, refreshToken)]));
      const afterwards = await refresh(server.issuer, client, winner.body.refresh_token as string);
      assert.equal(afterwards.body.error, 'invalid_grant', `attempt ${attempt}: the winner's new refresh token is refused`);
      assert.equal(await feedRefuses(server, winner.body.access_token as string), true, `attempt ${attempt}: the grant is on the revocation feed`);
    }
  });

  test('the same authorization code redeemed twice at once: one token response, one invalid_grant, and the grant is revoked', async () => {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const { client, result } = await signedInClient(server);
      const { winner } = oneWinner(await Promise.all([redeem(server.issuer, client, result), redeem(server.issuer, client, result)]));
      const afterwards = await refresh(server.issuer, client, winner.body.refresh_token as string);
      assert.equal(afterwards.body.error, 'invalid_grant', `attempt ${attempt}: the winner's refresh token is refused`);
    }
  });

  // No refresh token: on PostgreSQL the code's consume then commits on its own, not with a save.
  test('the same code of a client without refresh tokens redeemed twice at once: one token response, one invalid_grant, and the grant is revoked', async () => {
    const client = await registerClient(server.issuer, { redirect_uris: [CLAUDE_CALLBACK], grant_types: ['authorization_code'], token_endpoint_auth_method: 'none' });
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
      const { winner } = oneWinner(await Promise.all([redeem(server.issuer, client, result), redeem(server.issuer, client, result)]));
      assert.equal(await feedRefuses(server, winner.body.access_token as string), true, `attempt ${attempt}: the grant is on the revocation feed`);
    }
  });
});

if (TEST_BACKENDS.includes('postgres')) describe('concurrent redemption on two replicas (postgres)', () => {
  let first: TestAuthServer;
  let second: TestAuthServer;

  before(async () => {
    first = await startAuthServer({ backend: 'postgres' });
    // A replica: the same database (keys included, on PostgreSQL) and issuer (a load balancer's one address).
    second = await startAuthServer({
      databaseUrl: first.config.authServer.database.postgres!.url,
      configure: (config) => { config.authServer.issuer = first.config.authServer.issuer; },
    });
  });
  after(async () => {
    await second.close();
    await first.close();
  });

  test('the same refresh token sent to both replicas at once: one wins, the other answers invalid_grant, and the family is revoked on both', async () => {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const { client, result } = await signedInClient(first);
      const tokens = await redeem(first.issuer, client, result);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      const refreshToken = tokens.body.refresh_token as string;

      const { winner } = oneWinner(await Promise.all([refresh(first.issuer, client, refreshToken), refresh(second.issuer, client, refreshToken)]));
      for (const replica of [first, second]) {
        const afterwards = await refresh(replica.issuer, client, winner.body.refresh_token as string);
        assert.equal(afterwards.body.error, 'invalid_grant', `attempt ${attempt}: the winner's new refresh token is refused by ${replica === first ? 'the first' : 'the second'} replica`);
      }
      assert.equal(await feedRefuses(second, winner.body.access_token as string), true, `attempt ${attempt}: the grant is on the shared revocation feed`);
    }
  });
});
