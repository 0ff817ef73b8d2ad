/**
 * What a grant leaves in the database (issue 15: ≤ 2 KB per issued-and-refreshed grant): a
 * rotated refresh token shrinks to a tombstone that still catches reuse, payloads leave out what
 * their columns hold, and once everything of a grant has expired the sweep leaves nothing of it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createDatabaseAdapter } from '../../apps/auth-server/src/provider/database-adapter.ts';
import { ModelStore } from '../../apps/auth-server/src/provider/model-store.ts';
import { storedId } from '../../apps/auth-server/src/provider/stored-form.ts';
import { connect, redeem, refresh, registerClient, startAuthorization, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';

const RESOURCE = 'http://localhost:4001/mcp';

for (const backend of TEST_BACKENDS) describe(`compact storage of grants and refresh tokens (${backend})`, () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  const clock = new TestClock();
  before(async () => {
    server = await startAuthServer({ backend, clock });
    client = await registerClient(server.issuer);
  });
  after(() => server.close());

  async function signedIn(): Promise<{ refreshToken: string; grantId: string }> {
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    const tokens = await redeem(server.issuer, client, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const refreshToken = tokens.body.refresh_token as string;
    const row = await server.auth.database.get<{ grant_id: string }>("SELECT grant_id FROM oidc_models WHERE model = 'RefreshToken' AND id = ?", [storedId('RefreshToken', refreshToken)]);
    return { refreshToken, grantId: row!.grant_id };
  }

  async function storedPayload(model: string, id: string): Promise<Record<string, unknown>> {
    const row = await server.auth.database.get<{ payload: string }>('SELECT payload FROM oidc_models WHERE model = ? AND id = ?', [model, id]);
    assert.ok(row, `${model} ${id} is stored`);
    return JSON.parse(row.payload) as Record<string, unknown>;
  }

  test('a rotated refresh token is kept as a tombstone, and presenting it again (with a scope) still revokes the grant', async () => {
    const { refreshToken: first, grantId } = await signedIn();
    const rotated = await refresh(server.issuer, client, first);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));

    const tombstone = await storedPayload('RefreshToken', storedId('RefreshToken', first));
    assert.deepEqual(Object.keys(tombstone).sort(), ['exp', 'scope'], 'only what the provider reads before it sees the token was used');

    // The scope check runs before the reuse check: without the scope in the tombstone this
    // would be invalid_scope, and the grant would survive the replay.
    const replay = await refresh(server.issuer, client, first, { scope: 'mcp:read' });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant', JSON.stringify(replay.body));
    const afterReplay = await refresh(server.issuer, client, rotated.body.refresh_token as string);
    assert.equal(afterReplay.body.error, 'invalid_grant', 'the whole grant is revoked, the newest token with it');
    assert.equal(await server.auth.database.get('SELECT 1 AS found FROM oidc_models WHERE grant_id = ? OR id = ?', [grantId, grantId]), undefined);
  });

  test('a redeemed authorization code is kept as a tombstone, and replaying it still revokes the grant (RFC 6749 §4.1.2)', async () => {
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    const tokens = await redeem(server.issuer, client, result);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));

    const tombstone = await storedPayload('AuthorizationCode', storedId('AuthorizationCode', result.code));
    assert.deepEqual(Object.keys(tombstone).sort(), ['codeChallenge', 'codeChallengeMethod', 'exp', 'redirectUri'], 'only what the provider reads before it sees the code was used');

    // PKCE and the redirect_uri are checked before the reuse check: without them in the
    // tombstone the replay would be refused as a PKCE or redirect_uri mismatch, and the grant
    // would survive it.
    const replay = await redeem(server.issuer, client, result);
    assert.equal(replay.status, 400);
    assert.deepEqual([replay.body.error, replay.body.error_description], ['invalid_grant', 'grant request is invalid'], JSON.stringify(replay.body));
    const refreshed = await refresh(server.issuer, client, tokens.body.refresh_token as string);
    assert.equal(refreshed.body.error, 'invalid_grant', 'the grant is revoked, the refresh token the code gave with it');
  });

  test('a tombstone keeps the session binding of a token that expires with its session, and only then', async () => {
    const RefreshTokens = createDatabaseAdapter(server.auth.database, clock);
    const adapter = new RefreshTokens('RefreshToken');
    const exp = clock.epochSeconds() + 600;
    for (const [id, bound] of [['bound-token', true], ['unbound-token', false]] as const) {
      await adapter.upsert(id, { grantId: 'g-tombstone', clientId: 'c', accountId: 'a', exp, scope: 'mcp:read', sessionUid: 'session-uid', expiresWithSession: bound, kind: 'RefreshToken', jti: id }, 600);
      await adapter.consume(id);
      const found = await adapter.find(id);
      assert.equal(found?.sessionUid, bound ? 'session-uid' : undefined, `${id}: ${JSON.stringify(found)}`);
      assert.deepEqual([found?.consumed, found?.expiresWithSession, found?.exp], [clock.epochSeconds(), bound, exp]);
    }
  });

  test("a live refresh token keeps its browser session's id only when it expires with the session", async () => {
    const RefreshTokens = createDatabaseAdapter(server.auth.database, clock);
    const adapter = new RefreshTokens('RefreshToken');
    const exp = clock.epochSeconds() + 600;
    for (const [id, bound] of [['live-bound-token', true], ['live-unbound-token', false]] as const) {
      await adapter.upsert(id, { grantId: 'g-live', clientId: 'c', accountId: 'a', exp, scope: 'mcp:read', sessionUid: 'session-uid', expiresWithSession: bound, kind: 'RefreshToken', jti: id }, 600);
      assert.equal((await storedPayload('RefreshToken', storedId('RefreshToken', id))).sessionUid, bound ? 'session-uid' : undefined, id);
      assert.equal((await adapter.find(id))?.sessionUid, bound ? 'session-uid' : undefined, id);
    }
    // A real grant (Gatehouse's tokens never expire with the session) refreshes without it.
    const { refreshToken } = await signedIn();
    assert.equal((await storedPayload('RefreshToken', storedId('RefreshToken', refreshToken))).sessionUid, undefined);
    const rotated = await refresh(server.issuer, client, refreshToken);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.equal((await refresh(server.issuer, client, rotated.body.refresh_token as string)).status, 200);
  });

  test('grants and refresh tokens are stored without the fields their columns hold, and read back whole', async () => {
    const { refreshToken, grantId } = await signedIn();
    const grant = await storedPayload('Grant', grantId);
    const token = await storedPayload('RefreshToken', storedId('RefreshToken', refreshToken));
    for (const [what, payload] of [['grant', grant], ['refresh token', token]] as const) {
      for (const field of ['kind', 'jti', 'grantId', 'accountId', 'clientId']) assert.equal(payload[field], undefined, `${what} payload has no ${field}`);
    }
    const found = await server.auth.provider.RefreshToken.find(refreshToken);
    assert.deepEqual([found?.kind, found?.jti, found?.grantId, found?.clientId, found?.accountId !== undefined], ['RefreshToken', refreshToken, grantId, client.client_id, true]);
    const refreshed = await refresh(server.issuer, client, refreshToken);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  });

  test('once a grant and all its tokens have expired, the sweep leaves nothing of it', async () => {
    const { refreshToken, grantId } = await signedIn();
    const rotated = await refresh(server.issuer, client, refreshToken);
    assert.equal(rotated.status, 200);
    const rowsOf = async () => Number((await server.auth.database.get<{ n: number }>('SELECT count(*) AS n FROM oidc_models WHERE grant_id = ? OR id = ?', [grantId, grantId]))!.n);
    assert.ok(await rowsOf() >= 3, 'the grant, its consumed token and its live one are stored');

    const models = new ModelStore(server.auth.database, clock);
    await models.sweepExpired(clock.epochSeconds());
    assert.ok(await rowsOf() >= 3, 'nothing of a live grant is swept');
    clock.advance(server.config.authServer.refreshTokenAbsoluteTtl + 1);
    await models.sweepExpired(clock.epochSeconds());
    assert.equal(await rowsOf(), 0, 'grant, tombstones and tokens are gone');
  });
});

for (const backend of TEST_BACKENDS) describe(`rows keyed by the full hash of a bearer id, as an earlier version stored them (${backend})`, () => {
  test('the migration cuts them to the short key, and the code, refresh token and browser session they hold still work', async () => {
    const server = await startAuthServer({ backend });
    try {
      const client = await registerClient(server.issuer);
      const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
      const tokens = await redeem(server.issuer, client, result);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      const refreshToken = tokens.body.refresh_token as string;
      const sessionId = result.browser.cookieValue('_session')!;

      // Key each row by the full 43-character hash, and forget the migration ran.
      const db = server.auth.database;
      const fullHash = (model: string, id: string) => createHash('sha256').update(model).update('\0').update(id).digest('base64url');
      for (const [model, raw] of [['RefreshToken', refreshToken], ['AuthorizationCode', result.code], ['Session', sessionId]] as const) {
        assert.equal(storedId(model, raw).length, 22);
        assert.equal((await db.run('UPDATE oidc_models SET id = ? WHERE model = ? AND id = ?', [fullHash(model, raw), model, storedId(model, raw)])).changes, 1, model);
      }
      assert.equal((await db.run("DELETE FROM schema_migrations WHERE version LIKE '%_short_hashed_ids.sql'")).changes, 1);

      await server.restart();

      const long = await server.auth.database.get<{ n: number }>("SELECT count(*) AS n FROM oidc_models WHERE model IN ('RefreshToken', 'AuthorizationCode', 'Session') AND length(id) <> 22");
      assert.equal(Number(long!.n), 0, 'every hashed key is cut');
      const signedIn = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, result.browser);
      assert.doesNotMatch(signedIn.page.html, /name="password"/, 'the browser session is found');
      const refreshed = await refresh(server.issuer, client, refreshToken);
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      const replayed = await redeem(server.issuer, client, result);
      assert.equal(replayed.body.error, 'invalid_grant', 'the code is found, consumed');
      const afterReplay = await refresh(server.issuer, client, refreshed.body.refresh_token as string);
      assert.equal(afterReplay.body.error, 'invalid_grant', 'and its replay revoked the grant');
    } finally {
      await server.close();
    }
  });
});
