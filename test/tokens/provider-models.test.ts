/**
 * The provider's stored models on each backend, through the real adapter and model store on a
 * real database: the columns others query, the atomic consume, and what the admin pages, the
 * registration cap and the sweeper ask. Two database handles on one database stand for two
 * replicas (two PostgreSQL pools; two SQLite connections to one file).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { createDatabaseAdapter } from '../../apps/auth-server/src/provider/database-adapter.ts';
import { ClientUsage } from '../../apps/auth-server/src/provider/client-usage.ts';
import { CLIENT_KIND } from '../../apps/auth-server/src/registration/client-metadata-policy.ts';
import { hashStoredSecrets } from '../../apps/auth-server/src/provider/hash-stored-secrets.ts';
import { ModelStore } from '../../apps/auth-server/src/provider/model-store.ts';
import { storedId } from '../../apps/auth-server/src/provider/stored-form.ts';
import { modelName, storedModel } from '../../apps/auth-server/src/provider/stored-model.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { TEST_BACKENDS, testDatabaseSettings } from '../helpers/test-database.ts';

const NOW = 1_800_000_000;

for (const backend of TEST_BACKENDS) describe(`provider models (${backend})`, () => {
  let dir: string;
  let replicaA: SqlDatabase;
  let replicaB: SqlDatabase;
  let clock: TestClock;
  let adapterA: new (model: string) => Adapter;
  let adapterB: new (model: string) => Adapter;
  let models: ModelStore;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-models-'));
    const settings = await testDatabaseSettings(backend, join(dir, 'auth-server.db'));
    replicaA = await openDatabase(settings, 'auth-server');
    replicaB = await openDatabase(settings, 'auth-server');
    clock = new TestClock(NOW * 1000);
    adapterA = createDatabaseAdapter(replicaA, clock);
    adapterB = createDatabaseAdapter(replicaB, clock);
    models = new ModelStore(replicaA, clock);
  });
  after(async () => {
    await replicaA.close();
    await replicaB.close();
    rmSync(dir, { recursive: true, force: true });
  });

  let counter = 0;
  /** A grant of `accountId` to `clientId` with one refresh token; returns their ids. */
  async function grantWithRefreshToken(accountId: string, clientId: string, scope = 'mcp:read') {
    counter += 1;
    const grantId = `grant-${counter}`;
    const refreshToken = `refresh-token-${counter}`;
    await new adapterA('Grant')!.upsert(grantId, {
      accountId, clientId, iat: NOW - 1000 + counter, exp: NOW + 3600, jti: grantId, kind: 'Grant', resources: { 'https://mcp.example/mcp': scope },
    } as AdapterPayload, 3600);
    await new adapterA('RefreshToken').upsert(refreshToken, {
      accountId, clientId, grantId, iat: NOW, exp: NOW + 3600, jti: refreshToken, kind: 'RefreshToken',
    } as AdapterPayload, 3600);
    return { grantId, refreshToken };
  }

  test('upsert writes the account and the client as columns (a Client row: its own id; a refresh token: its grant\'s, read back through it)', async () => {
    const { grantId, refreshToken } = await grantWithRefreshToken('user-1', 'client-1');
    await new adapterA('Client').upsert('client-1', { client_id: 'client-1', redirect_uris: ['https://a.example/cb'] } as AdapterPayload);
    const rows = await replicaA.all<{ model: string; account_id: string | null; client_id: string | null; grant_id: string | null }>(
      'SELECT model, account_id, client_id, grant_id FROM oidc_models WHERE (model = ? AND id = ?) OR (model = ? AND id = ?) OR (model = ? AND id = ?) ORDER BY model',
      [storedModel('Grant'), grantId, storedModel('RefreshToken'), storedId('RefreshToken', refreshToken), 'Client', 'client-1'],
    );
    assert.deepEqual(rows.map((r) => ({ ...r, model: modelName(r.model) })), [
      { model: 'Client', account_id: null, client_id: 'client-1', grant_id: null },
      { model: 'Grant', account_id: 'user-1', client_id: 'client-1', grant_id: null },
      { model: 'RefreshToken', account_id: null, client_id: null, grant_id: grantId },
    ]);
    const found = await new adapterB('RefreshToken').find(refreshToken);
    assert.deepEqual([found?.accountId, found?.clientId, found?.grantId], ['user-1', 'client-1', grantId], 'the account and client come from the grant');
  });

  test('the same refresh token consumed on two replicas at once: one succeeds, the other is invalid_grant and the grant is gone', async () => {
    const { grantId, refreshToken } = await grantWithRefreshToken('user-2', 'client-2');
    const outcomes = await Promise.allSettled([
      new adapterA('RefreshToken').consume(refreshToken),
      new adapterB('RefreshToken').consume(refreshToken),
    ]);
    assert.deepEqual(outcomes.map((o) => o.status).sort(), ['fulfilled', 'rejected']);
    const refused = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')!.reason as errors.InvalidGrant;
    assert.ok(refused instanceof errors.InvalidGrant, String(refused));
    assert.equal(refused.error_detail, 'refresh token already used', 'the detail the audit log records as a reuse');
    assert.equal(await new adapterA('Grant').find(grantId), undefined, 'the grant is revoked');
    assert.equal(await new adapterB('RefreshToken').find(refreshToken), undefined, 'its refresh tokens with it');
  });

  test('consuming what was already consumed refuses, and revokes the grant', async () => {
    const { grantId, refreshToken } = await grantWithRefreshToken('user-3', 'client-3');
    await new adapterA('RefreshToken').consume(refreshToken);
    const found = await new adapterB('RefreshToken').find(refreshToken);
    assert.equal(found?.consumed, NOW, 'find reports when it was consumed (our clock)');
    await assert.rejects(new adapterB('RefreshToken').consume(refreshToken), errors.InvalidGrant);
    assert.equal(await models.grant(grantId), undefined);
  });

  test('an authorization code consumed twice at once: one wins', async () => {
    const { grantId } = await grantWithRefreshToken('user-4', 'client-4');
    await new adapterA('AuthorizationCode').upsert('code-4', { accountId: 'user-4', clientId: 'client-4', grantId, kind: 'AuthorizationCode' } as AdapterPayload, 60);
    const outcomes = await Promise.allSettled([new adapterA('AuthorizationCode').consume('code-4'), new adapterB('AuthorizationCode').consume('code-4')]);
    assert.deepEqual(outcomes.map((o) => o.status).sort(), ['fulfilled', 'rejected']);
    assert.equal((outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason.error_detail, 'authorization code already consumed');
  });

  test('a client assertion\'s replay marker written on two replicas at once: one write wins, the other is refused as a replay', async () => {
    const marker = { iss: 'https://client.example/client.json', jti: 'marker-1', kind: 'ReplayDetection' } as AdapterPayload;
    const outcomes = await Promise.allSettled([
      new adapterA('ReplayDetection').upsert('marker-1', marker, 60),
      new adapterB('ReplayDetection').upsert('marker-1', marker, 60),
    ]);
    assert.deepEqual(outcomes.map((o) => o.status).sort(), ['fulfilled', 'rejected']);
    const refused = (outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason as errors.InvalidClientAuth;
    assert.ok(refused instanceof errors.InvalidClientAuth, String(refused));
    assert.equal(refused.statusCode, 401);

    await new adapterA('ReplayDetection').upsert('marker-2', marker, 0);
    await new adapterB('ReplayDetection').upsert('marker-2', marker, 60);
    assert.ok(await new adapterA('ReplayDetection').find('marker-2'), 'an expired marker is replaced');
  });

  test('grants are listed by account and by client with their scopes, newest first, and deleted with their rows', async () => {
    const older = await grantWithRefreshToken('user-5', 'client-5a', 'mcp:read');
    const newer = await grantWithRefreshToken('user-5', 'client-5b', 'mcp:read mcp:write');
    await grantWithRefreshToken('user-6', 'client-5a');
    const ofUser = await models.grants({ accountId: 'user-5' });
    assert.deepEqual(ofUser.map((g) => [g.grantId, g.clientId, g.scopes]), [
      [newer.grantId, 'client-5b', ['mcp:read', 'mcp:write']],
      [older.grantId, 'client-5a', ['mcp:read']],
    ]);
    assert.deepEqual((await models.grants({ clientId: 'client-5a' })).map((g) => g.accountId).sort(), ['user-5', 'user-6']);
    assert.deepEqual((await models.grants({ accountId: 'user-5', exceptClientId: 'client-5b' })).map((g) => g.grantId), [older.grantId]);
    assert.equal((await models.grantCountsByClient()).get('client-5a'), 2);
    assert.equal(ofUser[0]!.lastRefreshAt, null, 'never refreshed');

    await new adapterA('RefreshToken').consume(newer.refreshToken);
    assert.equal((await models.grant(newer.grantId))!.lastRefreshAt, NOW * 1000, 'a consumed refresh token is a refresh');

    assert.equal(await models.deleteGrant(older.grantId), true);
    assert.equal(await models.deleteGrant(older.grantId), false, 'gone already');
    assert.equal(await new adapterB('RefreshToken').find(older.refreshToken), undefined, 'its refresh token went with it');
    assert.deepEqual(await models.grantIds({ accountId: 'user-5' }), [newer.grantId]);
  });

  test('a user\'s sessions are found by the account column', async () => {
    await new adapterA('Session').upsert('session-7', { accountId: 'user-7', uid: 'uid-7', kind: 'Session' } as AdapterPayload, 600);
    await new adapterA('Session').upsert('session-8', { accountId: 'user-8', uid: 'uid-8', kind: 'Session' } as AdapterPayload, 600);
    assert.equal(await models.deleteSessions('user-7'), 1);
    assert.equal(await new adapterA('Session').findByUid('uid-7'), undefined);
    assert.ok(await new adapterA('Session').findByUid('uid-8'));
  });

  test('a user\'s sessions but one are ended when that one is kept (a password changed from it)', async () => {
    for (const n of [1, 2, 3]) await new adapterA('Session').upsert(`session-9-${n}`, { accountId: 'user-9', uid: `uid-9-${n}`, kind: 'Session' } as AdapterPayload, 600);
    assert.equal(await models.deleteSessions('user-9', { exceptSessionId: 'session-9-2' }), 2);
    assert.equal(await new adapterB('Session').find('session-9-1'), undefined);
    assert.ok(await new adapterB('Session').find('session-9-2'), 'the kept session is still there');
    assert.equal(await new adapterB('Session').find('session-9-3'), undefined);
    assert.equal(await models.deleteSessions('user-9', { exceptSessionId: 'session-9-2' }), 0);
  });

  test('clients: an administrator\'s id is taken once, pending registrations are counted, a used one stays, expired rows are swept', async () => {
    assert.equal(await models.addClient('static-9', { client_id: 'static-9', client_name: 'Nine' }), true);
    assert.equal(await models.addClient('static-9', { client_id: 'static-9', client_name: 'Again' }), false, 'the id is taken');
    assert.equal((await models.clients()).find((c) => c.clientId === 'static-9')?.metadata.client_name, 'Nine');

    const before = await models.pendingClients(NOW);
    for (const id of ['dcr-10', 'dcr-11']) {
      await new adapterA('Client').upsert(id, { client_id: id } as AdapterPayload);
      await models.expireClientAt(id, NOW + 60);
    }
    assert.deepEqual(await models.pendingClients(NOW), { count: before.count + 2, nextExpiry: Math.min(before.nextExpiry ?? Infinity, NOW + 60) });
    await models.keepClient('dcr-11');
    assert.equal(await models.deleteClient('dcr-11', { onlyPending: true }), false, 'a client that obtained a token is no longer pending');

    clock.advance(61);
    assert.equal(await models.clientExists('dcr-10'), false, 'an expired registration is invisible at once');
    assert.ok(await models.sweepExpired(clock.epochSeconds()) >= 1);
    assert.equal((await replicaB.get('SELECT 1 AS found FROM oidc_models WHERE model = ? AND id = ?', ['Client', 'dcr-10'])), undefined, 'and swept');
    assert.equal(await models.clientExists('dcr-11'), true);
  });

  test('two replicas recording the same client\'s first use at once: one row, no error, the first use kept', async () => {
    const client = { clientId: 'cimd-12', metadata: () => ({ [CLIENT_KIND]: 'cimd', client_name: 'Twelve', redirect_uris: ['https://12.example/cb'] }) };
    const usageA = new ClientUsage(replicaA, clock);
    const usageB = new ClientUsage(replicaB, clock);
    await Promise.all([usageA.record(client, NOW * 1000), usageB.record(client, NOW * 1000)]);
    await usageB.record(client, NOW * 1000 + 120_000);
    const use = (await usageA.all()).get('cimd-12');
    assert.deepEqual(use && { first: use.firstUsedAt, last: use.lastUsedAt, name: use.clientName }, { first: NOW * 1000, last: NOW * 1000 + 120_000, name: 'Twelve' });
  });

  test('two replicas starting together convert an earlier version\'s plain rows once, and neither fails', async () => {
    // A refresh token as an earlier version stored it: its raw id as key and as `jti`.
    await replicaA.run('INSERT INTO oidc_models (model, id, payload, grant_id, expires_at) VALUES (?, ?, ?, ?, ?)', [
      storedModel('RefreshToken'), 'plain-refresh-token', JSON.stringify({ jti: 'plain-refresh-token', kind: 'RefreshToken', grantId: 'grant-plain' }), 'grant-plain', NOW + 3600,
    ]);
    // Two SQLite connections in one process cannot interleave: the second's BEGIN IMMEDIATE blocks
    // the event loop the first needs to commit. SQLite runs one server process; a second one (the
    // CLI) waits in its own process. So there the two starts are one after the other.
    const converted = backend === 'postgres'
      ? await Promise.all([hashStoredSecrets(replicaA), hashStoredSecrets(replicaB)])
      : [await hashStoredSecrets(replicaA), await hashStoredSecrets(replicaB)];
    assert.deepEqual(converted.sort(), [0, 1], 'one replica converted the row, the other found it done');
    assert.equal((await replicaB.get<{ n: number }>('SELECT count(*) AS n FROM data_conversions'))!.n, 1);
    assert.equal(await replicaA.get('SELECT 1 AS found FROM oidc_models WHERE id = ?', ['plain-refresh-token']), undefined, 'the raw id is gone');
    assert.equal((await new adapterB('RefreshToken').find('plain-refresh-token'))?.grantId, 'grant-plain', 'found by its hash');
  });

  if (backend === 'sqlite') {
    test('space freed by short-lived rows is used again, not left as holes among grants', async () => {
      const codes = new adapterA('AuthorizationCode');
      const grants = new adapterA('Grant');
      const refreshTokens = new adapterA('RefreshToken');
      const filler = 'x'.repeat(400);
      // Eight flows in flight at once: each code is deleted after later grants were written. Left
      // among the grants, the codes' space stays unused (about 21 % of the table); found again by
      // the next code, about 8 %.
      for (let i = 0; i < 600; i += 1) {
        await codes.upsert(`churn-code-${i}`, { kind: 'AuthorizationCode', grantId: `churn-grant-${i}`, filler } as AdapterPayload, 60);
        await grants.upsert(`churn-grant-${i}`, { accountId: 'churn', clientId: 'churn-app', kind: 'Grant', jti: `churn-grant-${i}`, iat: NOW, exp: NOW + 3600 } as AdapterPayload, 3600);
        await refreshTokens.upsert(`churn-refresh-token-${i}`, { accountId: 'churn', clientId: 'churn-app', kind: 'RefreshToken', grantId: `churn-grant-${i}`, iat: NOW, exp: NOW + 3600 } as AdapterPayload, 3600);
        if (i >= 8) await codes.destroy(`churn-code-${i - 8}`);
      }
      const table = (await replicaA.get<{ bytes: number; unused: number }>("SELECT sum(pgsize) AS bytes, sum(unused) AS unused FROM dbstat WHERE name = 'oidc_models'"))!;
      assert.ok(table.unused < table.bytes * 0.14, `${table.unused} of ${table.bytes} bytes of oidc_models unused`);
    });
  }
});
