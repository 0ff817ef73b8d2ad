/**
 * On PostgreSQL, a refresh grant or code exchange that fails while storing the new refresh token
 * (the server ending the connection under it, as in a restart) issued nothing, so the client's
 * retry with the same refresh token or code gets tokens and the grant lives on. The old token's or
 * the code's consume was committed on its own before the insert: the retry was taken for a replay
 * (RFC 9700 §4.14.2, RFC 6749 §4.1.2) and the grant was revoked, the user made to sign in and
 * consent again. A replay after tokens were issued is still reuse and still ends the grant, also
 * for a code exchange that issues no refresh token (its consume commits alone). (SQLite keeps the
 * consume in its own write: a local file does not restart under a request, and the transaction
 * cost throughput; see database-adapter.ts holdConsume.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { assertNoStackTrace, CLAUDE_CALLBACK, connect, redeem, refresh, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { TEST_RESOURCE } from '../helpers/test-issuer.ts';

/** Makes inserting a refresh token's row end its own connection until `restore`. */
async function failRefreshTokenInserts(db: SqlDatabase): Promise<{ restore(): Promise<void> }> {
  await db.run("CREATE FUNCTION end_own_connection() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$");
  await db.run("CREATE TRIGGER end_own_connection BEFORE INSERT ON oidc_models FOR EACH ROW WHEN (NEW.model = 'R') EXECUTE FUNCTION end_own_connection()");
  return {
    async restore() {
      await db.run('DROP TRIGGER end_own_connection ON oidc_models');
      await db.run('DROP FUNCTION end_own_connection()');
    },
  };
}

type TokenAnswer = Awaited<ReturnType<typeof refresh>>;

for (const backend of TEST_BACKENDS.filter((one) => one === 'postgres')) describe(`a refresh grant or code exchange that failed to store the new refresh token (${backend})`, () => {
  let server: TestAuthServer;

  before(async () => {
    server = await startAuthServer({ backend });
  });
  after(() => server?.close());

  /** Whether the revocation feed refuses this access token (as the resource server would). */
  const feedRefuses = (accessToken: string) => {
    const claims = decodeJwt(accessToken);
    return server.auth.admin.revocations.refuses({
      sub: claims.sub!, clientId: claims.client_id as string, grantId: claims.gid as string, jti: claims.jti!,
      kid: decodeProtectedHeader(accessToken).kid!, iat: claims.iat!,
    });
  };

  const signIn = (clientId: string) => connect(server.issuer, { clientId, scope: 'mcp:read', resource: TEST_RESOURCE, username: 'admin', password: ADMIN_PASSWORD });

  /** Per redemption, the request a client sends and sends again, for a new grant. */
  const redemptions: { what: string; prepare(client: RegisteredClient): Promise<() => Promise<TokenAnswer>> }[] = [
    {
      what: 'refresh token',
      async prepare(client) {
        const refreshToken = (await redeem(server.issuer, client, await signIn(client.client_id))).body.refresh_token as string;
        return () => refresh(server.issuer, client, refreshToken);
      },
    },
    {
      what: 'code',
      async prepare(client) {
        const result = await signIn(client.client_id);
        return () => redeem(server.issuer, client, result);
      },
    },
  ];

  for (const { what, prepare } of redemptions) test(`the retry with the same ${what} gets tokens; a replay after that still ends the grant`, async () => {
    const client = await registerClient(server.issuer);
    const present = await prepare(client);

    const failing = await failRefreshTokenInserts(server.auth.database);
    const failed = await present();
    await failing.restore();
    assert.equal(failed.status, 503, JSON.stringify(failed.body));
    assert.equal(failed.body.error, 'temporarily_unavailable');
    assert.equal(failed.headers.get('retry-after'), '5');
    assertNoStackTrace(JSON.stringify(failed.body), `the failed redemption of the ${what}`);

    const retried = await present();
    assert.equal(retried.status, 200, `the retry: ${JSON.stringify(retried.body)}`);
    assert.equal(await feedRefuses(retried.body.access_token as string), false, 'the grant is not revoked');

    const replayed = await present();
    assert.equal(replayed.status, 400);
    assert.equal(replayed.body.error, 'invalid_grant');
    assert.equal(await feedRefuses(retried.body.access_token as string), true, 'the replay revoked the grant');
    assert.equal((await refresh(server.issuer, client, retried.body.refresh_token as string)).body.error, 'invalid_grant');
  });

  test('a code exchange that issues no refresh token still spends the code: a replay ends the grant', async () => {
    const client = await registerClient(server.issuer, { redirect_uris: [CLAUDE_CALLBACK], grant_types: ['authorization_code'], token_endpoint_auth_method: 'none' });
    const result = await signIn(client.client_id);

    const tokens = await redeem(server.issuer, client, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(tokens.body.refresh_token, undefined);

    const replayed = await redeem(server.issuer, client, result);
    assert.equal(replayed.status, 400, `the replay: ${JSON.stringify(replayed.body)}`);
    assert.equal(replayed.body.error, 'invalid_grant');
    assert.equal(await feedRefuses(tokens.body.access_token as string), true, 'the replay revoked the grant');
  });
});
