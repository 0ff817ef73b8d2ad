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
import { storedModel } from '../../apps/auth-server/src/provider/stored-model.ts';
import { fromStoredKeys, storedKey } from '../../apps/auth-server/src/provider/stored-payload-keys.ts';
import { connect, redeem, refresh, registerClient, startAuthorization, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';

const RESOURCE = 'http://localhost:4001/mcp';

/**
 * An authorization request's nonce holding U+0000: the live refresh token keeps it in its payload
 * as the escape `\u0000`, which PostgreSQL's jsonb refuses; a migration that reads payloads as
 * jsonb reads it as U+FFFD there (POSTGRES_PAYLOAD_AS_JSONB in database-adapter.ts) instead of
 * failing, and with it every start. SQLite's JSON functions keep it.
 */
const NUL_NONCE = 'nonce\u0000after';
const nonceAfterMigration = (backend: string) => (backend === 'postgres' ? 'nonce\ufffdafter' : NUL_NONCE);
/** Authorization request parameters carrying it (a nonce needs the openid scope). */
const WITH_NUL_NONCE = { scope: 'openid mcp:read', nonce: NUL_NONCE };

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
    const row = await server.auth.database.get<{ grant_id: string }>('SELECT grant_id FROM oidc_models WHERE model = ? AND id = ?', [storedModel('RefreshToken'), storedId('RefreshToken', refreshToken)]);
    return { refreshToken, grantId: row!.grant_id };
  }

  async function storedPayload(model: string, id: string): Promise<Record<string, unknown>> {
    const row = await server.auth.database.get<{ payload: string }>('SELECT payload FROM oidc_models WHERE model = ? AND id = ?', [storedModel(model), id]);
    assert.ok(row, `${model} ${id} is stored`);
    return JSON.parse(row.payload) as Record<string, unknown>;
  }

  /** A stored payload's field names but `exp`'s, sorted. */
  const withoutExp = (payload: Record<string, unknown>) => Object.keys(payload).filter((key) => key !== storedKey('exp')).sort();

  test('a rotated refresh token is kept as a tombstone, and presenting it again (with a scope) still revokes the grant', async () => {
    const { refreshToken: first, grantId } = await signedIn();
    const rotated = await refresh(server.issuer, client, first);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));

    const tombstone = await storedPayload('RefreshToken', storedId('RefreshToken', first));
    // (`exp` is there only when the row's expiry, on the test's clock, is another second.)
    assert.deepEqual(withoutExp(tombstone), [storedKey('scope')], 'only what the provider reads before it sees the token was used');

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
    assert.deepEqual(withoutExp(tombstone), ['codeChallenge', 'codeChallengeMethod', 'redirectUri'].map(storedKey).sort(), 'only what the provider reads before it sees the code was used');

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
    assert.equal((await storedPayload('RefreshToken', storedId('RefreshToken', refreshToken)))[storedKey('sessionUid')], undefined);
    const rotated = await refresh(server.issuer, client, refreshToken);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.equal((await refresh(server.issuer, client, rotated.body.refresh_token as string)).status, 200);
  });

  test("a grant's or token's exp is left to the row's expiry when they agree, kept when they do not, and read back either way", async () => {
    const Adapter = createDatabaseAdapter(server.auth.database, clock);
    const exp = clock.epochSeconds() + 600;
    for (const [model, id] of [['Grant', 'exp-grant'], ['RefreshToken', 'exp-token'], ['AuthorizationCode', 'exp-code']] as const) {
      const adapter = new Adapter(model);
      for (const [suffix, storedExp] of [['agrees', exp], ['differs', exp + 1]] as const) {
        await adapter.upsert(`${id}-${suffix}`, { grantId: 'g-exp', iat: exp - 600, exp: storedExp, kind: model, jti: `${id}-${suffix}` }, 600);
        const stored = await storedPayload(model, storedId(model, `${id}-${suffix}`));
        assert.equal(stored[storedKey('exp')], suffix === 'agrees' ? undefined : storedExp, `${model} ${suffix}: ${JSON.stringify(stored)}`);
        assert.equal((await adapter.find(`${id}-${suffix}`))?.exp, storedExp, `${model} ${suffix} reads back its exp`);
      }
    }
    await new Adapter('RefreshToken').consume('exp-token-agrees');
    assert.equal((await new Adapter('RefreshToken').find('exp-token-agrees'))?.exp, exp, 'and so does its tombstone');
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

  test("grant and refresh token fields are stored under one-letter names and read back under the provider's", async () => {
    const { refreshToken, grantId } = await signedIn();
    const rotated = await refresh(server.issuer, client, refreshToken);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const live = rotated.body.refresh_token as string;
    const stored = { grant: await storedPayload('Grant', grantId), token: await storedPayload('RefreshToken', storedId('RefreshToken', live)) };
    for (const [what, payload] of Object.entries(stored)) {
      assert.deepEqual(Object.keys(payload).filter((key) => key.length > 1), [], `${what}: ${JSON.stringify(payload)}`);
    }
    assert.deepEqual(stored.grant[storedKey('resources')], { [RESOURCE]: 'mcp:read' }, 'nested fields keep their names');

    const token = await server.auth.provider.RefreshToken.find(live);
    assert.deepEqual(
      [token?.scope, token?.resource, token?.gty, token?.rotations, typeof token?.iat, typeof token?.exp, typeof token?.iiat, typeof token?.authTime],
      ['mcp:read', RESOURCE, 'authorization_code refresh_token', 1, 'number', 'number', 'number', 'number'],
    );
    const grant = await server.auth.provider.Grant.find(grantId);
    // No identity scope was asked for: the grant's OpenID part is empty, and mcp:read is granted for the resource only.
    assert.deepEqual([grant?.resources, grant?.openid, grant?.rejected, typeof grant?.iat], [{ [RESOURCE]: 'mcp:read' }, undefined, { openid: { scope: 'mcp:read' } }, 'number']);
    assert.deepEqual((await server.auth.admin.grants.find(grantId))?.scopes, ['mcp:read'], 'the admin pages read the grant too');
    assert.equal((await refresh(server.issuer, client, live)).status, 200);
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
  test('the migration cuts them to the short key, and the code, refresh token (its nonce holding U+0000) and browser session they hold still work', async () => {
    const server = await startAuthServer({ backend });
    try {
      const client = await registerClient(server.issuer);
      const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD, extra: WITH_NUL_NONCE });
      const tokens = await redeem(server.issuer, client, result);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      const refreshToken = tokens.body.refresh_token as string;
      const sessionId = result.browser.cookieValue('_session')!;

      // Key each row by the full 43-character hash under its model's name, as before both
      // migrations, and forget they ran.
      const db = server.auth.database;
      const fullHash = (model: string, id: string) => createHash('sha256').update(model).update('\0').update(id).digest('base64url');
      for (const [model, raw] of [['RefreshToken', refreshToken], ['AuthorizationCode', result.code], ['Session', sessionId]] as const) {
        assert.equal(storedId(model, raw).length, 22);
        assert.equal((await db.run('UPDATE oidc_models SET model = ?, id = ? WHERE model = ? AND id = ?', [model, fullHash(model, raw), storedModel(model), storedId(model, raw)])).changes, 1, model);
      }
      assert.equal((await db.run("DELETE FROM schema_migrations WHERE version LIKE '%_short_hashed_ids.sql' OR version LIKE '%_model_codes.sql'")).changes, 2);

      await server.restart();

      const long = await server.auth.database.get<{ n: number }>('SELECT count(*) AS n FROM oidc_models WHERE model IN (?, ?, ?) AND length(id) <> 22', ['RefreshToken', 'AuthorizationCode', 'Session'].map(storedModel));
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

/**
 * A grant as the migration tests need it: its code redeemed and its first refresh token rotated,
 * with `read()` giving what the provider finds of the live and used tokens, the code and the
 * grant (for comparing before and after a migration).
 */
async function rotatedGrant(server: TestAuthServer, extra: Record<string, string> = {}) {
  const client = await registerClient(server.issuer);
  const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD, extra });
  const tokens = await redeem(server.issuer, client, result);
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  const first = tokens.body.refresh_token as string;
  const rotated = await refresh(server.issuer, client, first);
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  const live = rotated.body.refresh_token as string;
  const [grant] = await server.auth.admin.grants.list({ clientId: client.client_id });
  assert.ok(grant, 'the grant is listed');
  const read = async () => {
    const { provider } = server.auth; // a new one after the restart
    const models = await Promise.all([provider.RefreshToken.find(live), provider.RefreshToken.find(first), provider.AuthorizationCode.find(result.code), provider.Grant.find(grant.grantId)]);
    const found = models.map((m): Record<string, unknown> => ({ ...m }));
    delete found[1]!.iiat; // a tombstone has no iat: the provider takes the time of each read
    return found;
  };
  return { client, result, first, live, grant, read };
}

for (const backend of TEST_BACKENDS) describe(`rows stored under the model's name, as an earlier version stored them (${backend})`, () => {
  test('the migration gives grants, codes and refresh tokens their model code, and they read back and work as before', async () => {
    const server = await startAuthServer({ backend });
    try {
      const { client, first, live, grant } = await rotatedGrant(server);
      const before = await Promise.all([server.auth.provider.RefreshToken.find(live), server.auth.provider.Grant.find(grant.grantId)]);

      // Store each row under its model's name again, and forget the migration ran.
      const db = server.auth.database;
      for (const model of ['Grant', 'AuthorizationCode', 'RefreshToken']) {
        assert.ok((await db.run('UPDATE oidc_models SET model = ? WHERE model = ?', [model, storedModel(model)])).changes > 0, model);
      }
      assert.equal((await db.run("DELETE FROM schema_migrations WHERE version LIKE '%_model_codes.sql'")).changes, 1);

      await server.restart();

      const named = await server.auth.database.get<{ n: number }>("SELECT count(*) AS n FROM oidc_models WHERE model IN ('Grant', 'AuthorizationCode', 'RefreshToken')");
      assert.equal(Number(named!.n), 0, 'no row is left under a name');
      const after = await Promise.all([server.auth.provider.RefreshToken.find(live), server.auth.provider.Grant.find(grant.grantId)]);
      assert.deepEqual(after.map((m) => ({ ...m })), before.map((m) => ({ ...m })), 'the refresh token and the grant read back the same');
      assert.deepEqual((await server.auth.admin.grants.list({ clientId: client.client_id })).map((g) => g.grantId), [grant.grantId], 'listed by its client');
      assert.deepEqual((await server.auth.admin.grants.list({ accountId: grant.accountId })).map((g) => g.grantId), [grant.grantId], 'and by its account');
      const replayed = await refresh(server.issuer, client, first);
      assert.equal(replayed.body.error, 'invalid_grant', 'the rotated token is found, consumed');
      const afterReplay = await refresh(server.issuer, client, live);
      assert.equal(afterReplay.body.error, 'invalid_grant', 'and its reuse revoked the grant');
      assert.equal(await server.auth.admin.grants.find(grant.grantId), undefined);
    } finally {
      await server.close();
    }
  });
});

for (const backend of TEST_BACKENDS) describe(`payloads stored under oidc-provider's field names, as an earlier version stored them (${backend})`, () => {
  test('the migration renames their fields, and grants, codes and refresh tokens read back and work as before, a nonce with U+0000 included', async () => {
    const server = await startAuthServer({ backend });
    try {
      const { client, result, live, grant, read } = await rotatedGrant(server, WITH_NUL_NONCE);
      const before = await read();
      assert.equal(before[0]!.nonce, NUL_NONCE, 'the live refresh token holds the nonce');
      assert.ok(before.every((m) => m.jti !== undefined), 'each is found');

      // Store every grant, code and refresh token with oidc-provider's field names, and forget the migration ran.
      const db = server.auth.database;
      const rows = await db.all<{ model: string; id: string; payload: string }>('SELECT model, id, payload FROM oidc_models WHERE model IN (?, ?, ?)', ['Grant', 'AuthorizationCode', 'RefreshToken'].map(storedModel));
      assert.ok(rows.length >= 4);
      for (const row of rows) {
        const long = JSON.stringify(fromStoredKeys(JSON.parse(row.payload) as Record<string, unknown>));
        assert.notEqual(long, row.payload);
        await db.run('UPDATE oidc_models SET payload = ? WHERE model = ? AND id = ?', [long, row.model, row.id]);
      }
      assert.equal((await db.run("DELETE FROM schema_migrations WHERE version LIKE '%_short_payload_key%.sql'")).changes, 2);

      await server.restart();

      for (const row of await server.auth.database.all<{ payload: string }>('SELECT payload FROM oidc_models WHERE model IN (?, ?, ?)', ['Grant', 'AuthorizationCode', 'RefreshToken'].map(storedModel))) {
        assert.deepEqual(Object.keys(JSON.parse(row.payload) as object).filter((key) => storedKey(key) !== key), [], row.payload);
      }
      assert.deepEqual(await read(), [{ ...before[0], nonce: nonceAfterMigration(backend) }, ...before.slice(1)], 'each reads back the same');
      assert.deepEqual((await server.auth.admin.grants.find(grant.grantId))?.scopes, grant.scopes);
      const replayed = await redeem(server.issuer, client, result);
      assert.equal(replayed.body.error, 'invalid_grant', 'the code is found, consumed');
      assert.equal((await refresh(server.issuer, client, live)).body.error, 'invalid_grant', 'and its replay revoked the grant');
    } finally {
      await server.close();
    }
  });
});

for (const backend of TEST_BACKENDS) describe(`payloads stored with their exp beside the same expires_at, as an earlier version stored them (${backend})`, () => {
  test('the migration drops exp where the row holds it, and grants, codes and refresh tokens read back and work as before, a nonce with U+0000 included', async () => {
    const server = await startAuthServer({ backend });
    try {
      const { client, first, live, read } = await rotatedGrant(server, WITH_NUL_NONCE);
      const before = await read();
      assert.equal(before[0]!.nonce, NUL_NONCE, 'the live refresh token holds the nonce');
      assert.ok(before.every((m) => typeof m.exp === 'number'), 'each is found, with its exp');

      // Write each row's expiry into its payload as well, and forget the migration ran.
      const db = server.auth.database;
      const models = ['Grant', 'AuthorizationCode', 'RefreshToken'].map(storedModel);
      const rows = await db.all<{ model: string; id: string; payload: string; expires_at: number }>('SELECT model, id, payload, expires_at FROM oidc_models WHERE model IN (?, ?, ?)', models);
      for (const row of rows) {
        const payload = { ...JSON.parse(row.payload) as object, [storedKey('exp')]: Number(row.expires_at) };
        await db.run('UPDATE oidc_models SET payload = ? WHERE model = ? AND id = ?', [JSON.stringify(payload), row.model, row.id]);
      }
      assert.equal((await db.run("DELETE FROM schema_migrations WHERE version LIKE '%_exp_from_column.sql'")).changes, 1);

      await server.restart();

      for (const row of await server.auth.database.all<{ payload: string }>('SELECT payload FROM oidc_models WHERE model IN (?, ?, ?)', models)) {
        assert.equal((JSON.parse(row.payload) as Record<string, unknown>)[storedKey('exp')], undefined, row.payload);
      }
      assert.deepEqual(await read(), [{ ...before[0], nonce: nonceAfterMigration(backend) }, ...before.slice(1)], 'each reads back the same');
      assert.equal((await refresh(server.issuer, client, first)).body.error, 'invalid_grant', 'the rotated token is found, consumed');
      assert.equal((await refresh(server.issuer, client, live)).body.error, 'invalid_grant', 'and its reuse revoked the grant');
    } finally {
      await server.close();
    }
  });
});
