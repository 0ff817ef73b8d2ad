/**
 * The audit log keeps the values that repeat from event to event (event name, actor, actor id,
 * address, client, scope, resource) once, in `audit_values`, and a token's grant id, scope and
 * resource out of the details JSON (apps/auth-server/src/audit/audit-store.ts,
 * stored-details.ts): every event reads back exactly as written, a value is stored once, the
 * prune deletes the values no event left uses, and events stored before the change are converted
 * by the migration.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { AuditLog, type AuditRecord } from '../../apps/auth-server/src/audit/audit-log.ts';
import { joinDetails, splitDetails } from '../../apps/auth-server/src/audit/stored-details.ts';
import { migrationsDir } from '../../apps/shared/storage/open-database.ts';
import { migratePostgres } from '../../apps/shared/storage/migrate-postgres.ts';
import { PostgresDatabase } from '../../apps/shared/storage/postgres-database.ts';
import { migrateSqlite, SqliteDatabase } from '../../apps/shared/storage/sqlite-database.ts';
import { openAuthDatabase, type TestAuthDatabase } from '../helpers/open-auth-database.ts';
import { testDatabaseSettings, TEST_BACKENDS } from '../helpers/test-database.ts';
import { TestClock } from '../helpers/test-clock.ts';

const RESOURCE = 'https://mcp.example.com/mcp';
const GRANT = 'P68Rg79lIU7PEoYTQpooVh_eJUR9cywXPe91BJay0AU';
/** One hour and a second: past the lag a value's last_at may have behind its events. */
const PAST_SLACK_SECONDS = 3601;

describe('audit details as stored', () => {
  const shapes: Array<[string, Record<string, unknown>, { grantId: string | null; scope: string | null; resource: string | null; rest: string }]> = [
    ['a code exchange', { grant_id: GRANT, scope: 'mcp:read', resource: RESOURCE }, { grantId: GRANT, scope: 'mcp:read', resource: RESOURCE, rest: '{}' }],
    ['a refresh', { grant_id: GRANT }, { grantId: GRANT, scope: null, resource: null, rest: '{}' }],
    ['a refresh that narrowed its scope', { grant_id: GRANT, scope: 'mcp:read', resource: RESOURCE, refresh_token_issued: false },
      { grantId: GRANT, scope: 'mcp:read', resource: RESOURCE, rest: '{"refresh_token_issued":false}' }],
    ['a reuse', { grant_id: GRANT, grant_revoked: true }, { grantId: GRANT, scope: null, resource: null, rest: '{"grant_revoked":true}' }],
    ['grant type first', { grant_type: 'client_credentials', scope: 'mcp:read', resource: RESOURCE },
      { grantId: null, scope: null, resource: null, rest: `{"grant_type":"client_credentials","scope":"mcp:read","resource":"${RESOURCE}"}` }],
    ['grant id after another field', { idp: 'x', scope: 's', grant_id: GRANT }, { grantId: null, scope: null, resource: null, rest: `{"idp":"x","scope":"s","grant_id":"${GRANT}"}` }],
    ['resource before scope', { resource: RESOURCE, scope: 's' }, { grantId: null, scope: null, resource: RESOURCE, rest: '{"scope":"s"}' }],
    ['a grant id that is not a string', { grant_id: 7, scope: 's' }, { grantId: null, scope: null, resource: null, rest: '{"grant_id":7,"scope":"s"}' }],
    ['undefined fields, which JSON leaves out', { grant_type: undefined, grant_id: GRANT, scope: undefined, resource: RESOURCE, refresh_token_issued: undefined },
      { grantId: GRANT, scope: null, resource: RESOURCE, rest: '{}' }],
    ['nothing', {}, { grantId: null, scope: null, resource: null, rest: '{}' }],
  ];
  for (const [name, details, stored] of shapes) {
    test(`${name}: only leading grant id, scope and resource leave the JSON, and the details read back with their keys in order`, () => {
      const split = splitDetails(details);
      assert.deepEqual(split, stored);
      assert.equal(JSON.stringify(joinDetails(split.grantId, split.scope, split.resource, split.rest)), JSON.stringify(details));
    });
  }
});

for (const backend of TEST_BACKENDS) {
  describe(`audit values (${backend})`, () => {
    let database: TestAuthDatabase;
    let log: AuditLog;
    const clock = new TestClock();

    beforeEach(async () => {
      database = await openAuthDatabase(backend);
      log = new AuditLog(database.db, { retention: 30 * 86_400, maxEvents: 1000 }, clock);
    });
    afterEach(() => database?.close());

    const values = async () => (await database.db.all<{ value: string }>('SELECT value FROM audit_values')).map((row) => row.value).sort();

    test('a value repeated from event to event is stored once, and the events read back whole', async () => {
      const actor = { name: 'Alice', id: 'a6af1c40-bdf5-49b9-9919-e094d450a83e' };
      await Promise.all([
        log.enqueue({ event: 'token.issued', actor, ip: '192.0.2.1', clientId: 'client-a', details: { grant_id: GRANT, scope: 'mcp:read', resource: RESOURCE } }),
        log.enqueue({ event: 'token.refreshed', actor, ip: '192.0.2.1', clientId: 'client-a', details: { grant_id: GRANT } }),
      ]);
      await log.record({ event: 'token.refreshed', actor, ip: '192.0.2.1', clientId: 'client-a', details: { grant_id: GRANT, scope: 'mcp:read', resource: RESOURCE, refresh_token_issued: false } });
      assert.deepEqual(await values(), ['192.0.2.1', 'Alice', actor.id, 'client-a', RESOURCE, 'mcp:read', 'token.issued', 'token.refreshed'].sort());
      const read = (await log.query()).reverse().map(({ id: _id, at: _at, ...rest }) => rest);
      const common = { actor: 'Alice', actorId: actor.id, ip: '192.0.2.1', clientId: 'client-a' };
      assert.deepEqual(read, [
        { ...common, event: 'token.issued', details: { grant_type: 'authorization_code', grant_id: GRANT, scope: 'mcp:read', resource: RESOURCE } },
        { ...common, event: 'token.refreshed', details: { grant_id: GRANT } },
        { ...common, event: 'token.refreshed', details: { grant_id: GRANT, scope: 'mcp:read', resource: RESOURCE, refresh_token_issued: false } },
      ]);
      assert.deepEqual((await log.query({ event: 'token.issued' })).map((e) => e.event), ['token.issued']);
      assert.deepEqual((await log.query({ actor: 'alice' })).length, 3);
      assert.deepEqual(await log.query({ clientId: 'client-b' }), []);
      assert.deepEqual(await log.query({ event: 'user.created' }), []);
    });

    test('text that is not well formed is stored with U+FFFD for each lone surrogate, and long text is cut between characters', async () => {
      // A JSON body can carry a lone surrogate into a client's name or redirect URI; PostgreSQL's
      // jsonb refused the whole insert, so the event was lost, and SQLite lost the actor's name.
      const longName = `a${'🔑'.repeat(200)}`;
      await log.record({
        event: 'client.registered',
        actor: { name: `mallory\ud83d`, id: 'id\udc00' },
        clientId: `client\ud83d`,
        details: { client_name: `name\ud83d`, redirect_uris: ['https://app.example/cb\udfff'], long: longName, ['key\ud800']: 1 },
      });
      await log.enqueue({ event: 'client.registered', actor: { name: `b${'🔑'.repeat(150)}` }, clientId: `c${'🔑'.repeat(1100)}` });
      const [queued, recorded] = await log.query();
      assert.deepEqual([recorded?.actor, recorded?.actorId, recorded?.clientId], ['mallory\ufffd', 'id\ufffd', 'client\ufffd']);
      assert.deepEqual(recorded?.details, { client_name: 'name\ufffd', redirect_uris: ['https://app.example/cb\ufffd'], long: `a${'🔑'.repeat(149)}…`, ['key\ufffd']: 1 });
      assert.equal(queued?.actor, `b${'🔑'.repeat(99)}`, 'the actor cut at 200 code units, before the pair that straddles them');
      assert.equal(queued?.clientId, `c${'🔑'.repeat(999)}`, 'the client cut at 2000 code units, likewise');
      assert.deepEqual((await log.query({ actor: 'mallory\ufffd' })).map((event) => event.event), ['client.registered'], 'found by the name it is shown with');
    });

    test('U+0000, which PostgreSQL\'s jsonb and text refuse, is stored as U+FFFD wherever it is', async () => {
      await log.record({ event: 'client.registration_refused', actor: { name: 'nul\u0000actor' }, clientId: 'nul\u0000client', details: { reason: 'a\u0000b', ['k\u0000']: ['x\u0000'] } });
      const [event] = await log.query();
      assert.deepEqual([event?.actor, event?.clientId, event?.details], ['nul\ufffdactor', 'nul\ufffdclient', { reason: 'a\ufffdb', ['k\ufffd']: ['x\ufffd'] }]);
    });

    test('the prune deletes the values no event left uses, keeps those still used, and a value used again is stored again', async () => {
      await log.record({ event: 'client.deleted', actor: { name: 'cli' }, clientId: 'old-client', ip: '198.51.100.9' });
      clock.advance(PAST_SLACK_SECONDS);
      await log.record({ event: 'client.created', actor: { name: 'cli' }, clientId: 'new-client' });
      clock.advance(30 * 86_400 - PAST_SLACK_SECONDS + 1);
      assert.equal(await log.prune(), 1);
      const left = await values();
      assert.ok(!left.includes('old-client') && !left.includes('198.51.100.9') && !left.includes('client.deleted'), `values of pruned events go: ${left}`);
      assert.deepEqual(left, ['cli', 'client.created', 'new-client'], 'values still used stay');

      await log.enqueue({ event: 'client.deleted', actor: { name: 'cli' }, clientId: 'old-client' });
      const [again] = await log.query({ clientId: 'old-client' });
      assert.deepEqual([again?.event, again?.actor, again?.clientId], ['client.deleted', 'cli', 'old-client']);
    });

    test('a value last used within the hour before the oldest event left is kept', async () => {
      await log.record({ event: 'client.deleted', actor: { name: 'cli' }, clientId: 'recent-client' });
      clock.advance(60);
      await log.record({ event: 'client.created', actor: { name: 'cli' }, clientId: 'kept-client' });
      clock.advance(30 * 86_400 - 30);
      assert.equal(await log.prune(), 1);
      assert.ok((await values()).includes('recent-client'), 'kept: its last_at may lag behind events that use it by up to an hour');
    });
  });

  test(`audit events stored before the values table are converted by its migration and read back the same (${backend})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-values-'));
    const before = join(dir, 'before');
    mkdirSync(before);
    const all = migrationsDir(backend === 'postgres' ? 'postgres' : 'sqlite', 'auth-server');
    const converting = readdirSync(all).find((name) => name.endsWith('_audit_values.sql'))!;
    for (const file of readdirSync(all).filter((name) => name.endsWith('.sql') && name < converting)) copyFileSync(join(all, file), join(before, file));
    const settings = await testDatabaseSettings(backend, join(dir, 'auth-server.db'));
    const db = settings.postgres ? new PostgresDatabase(settings.postgres) : new SqliteDatabase(settings.sqliteFile);
    const migrate = (from: string) => (db instanceof PostgresDatabase ? migratePostgres(db, 'auth-server', from) : migrateSqlite(db, from));
    try {
      await migrate(before);
      const old: Array<Omit<AuditRecord, 'id' | 'details'> & { details: string }> = [
        { at: 1000, event: 'token.issued', actor: 'Alice', actorId: 'u-1', ip: '192.0.2.1', clientId: 'client-a', details: `{"grant_id":"${GRANT}","scope":"mcp:read","resource":"${RESOURCE}"}` },
        { at: 1001, event: 'token.refreshed', actor: 'Alice', actorId: 'u-1', ip: '192.0.2.1', clientId: 'client-a', details: `{"grant_id":"${GRANT}"}` },
        { at: 1002, event: 'key.rotated', actor: 'cli', actorId: null, ip: null, clientId: null, details: '{"kid":"k2","previous_kid":"k1"}' },
        { at: 1003, event: 'token.issued', actor: 'service', actorId: null, ip: '192.0.2.1', clientId: 'client-b', details: '{"grant_type":"client_credentials","scope":"mcp:read"}' },
      ];
      for (const e of old) {
        await db.run('INSERT INTO audit_events (at, event, actor, actor_id, ip, client_id, details) VALUES (?, ?, ?, ?, ?, ?, ?)',
          [e.at, e.event, e.actor, e.actorId, e.ip, e.clientId, e.details]);
      }
      const ids = (await db.all<{ id: number }>('SELECT id FROM audit_events ORDER BY id')).map((row) => Number(row.id));
      await migrate(all);
      const log = new AuditLog(db, { retention: 86_400, maxEvents: 1000 }, new TestClock(2000));
      const expected = old.map((e, i) => ({ ...e, id: ids[i], details: JSON.parse(e.details) as Record<string, unknown> }));
      expected[0]!.details = { grant_type: 'authorization_code', ...expected[0]!.details };
      assert.deepEqual((await log.query()).reverse(), expected);
      assert.deepEqual((await log.query({ actor: 'ALICE' })).map((e) => e.id).reverse(), ids.slice(0, 2));
      assert.deepEqual((await log.query({ clientId: 'client-b' })).map((e) => e.id), [ids[3]]);
      assert.deepEqual((await log.query({ event: 'token.issued' })).map((e) => e.id).reverse(), [ids[0], ids[3]]);
      assert.equal(Number((await db.get<{ n: number }>('SELECT count(*) AS n FROM audit_values'))!.n), 10, 'each distinct value once');
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
