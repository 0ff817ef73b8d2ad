/**
 * When each client last obtained tokens (provider/client-usage.ts), accurate to a minute: a use
 * within the minute after the stored one sends no statement; a later one, or one after an admin
 * forgot the client, is stored. Two handles on one database stand for two replicas. A use that
 * cannot be stored is logged, and never fails the token request it belongs to.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { ClientUsage, RESOLUTION_MS } from '../../apps/auth-server/src/provider/client-usage.ts';
import { CLIENT_KIND } from '../../apps/auth-server/src/registration/client-metadata-policy.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { claudeCodeDocument } from '../registration/support/claude-code-document.ts';
import { readingDocumentsFrom, startDocumentServer, type DocumentServer } from '../helpers/document-server.ts';
import { connect, redeem, refresh } from '../helpers/oauth-flow.ts';
import { openAuthDatabase, type TestAuthDatabase } from '../helpers/open-auth-database.ts';
import { refuseInserts } from '../helpers/refuse-inserts.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { TestClock } from '../helpers/test-clock.ts';

const T0 = 1_800_000_000_000;

/** `db`, counting the statements sent through it. */
function counting(db: SqlDatabase): { db: SqlDatabase; statements: () => number } {
  let statements = 0;
  const counted = Object.create(db) as SqlDatabase;
  for (const method of ['run', 'get', 'all'] as const) {
    counted[method] = ((sql: string, params?: never) => {
      statements += 1;
      return db[method](sql, params);
    }) as never;
  }
  return { db: counted, statements: () => statements };
}

for (const backend of TEST_BACKENDS) describe(`client usage (${backend})`, () => {
  let database: TestAuthDatabase;
  const clock = new TestClock(T0);
  const client = { clientId: 'https://app.example/client.json', metadata: () => ({ [CLIENT_KIND]: 'cimd', client_name: 'App', redirect_uris: ['https://app.example/cb'] }) };

  beforeEach(async () => {
    database = await openAuthDatabase(backend);
  });
  afterEach(() => database?.close());

  test('a use within the minute after the stored one sends no statement; the first use after it is stored', async () => {
    const registered = { clientId: 'registered-client', metadata: () => ({ [CLIENT_KIND]: 'dcr' }) };
    const { db, statements } = counting(database.db);
    const usage = new ClientUsage(db, clock);
    await usage.record(registered, T0);
    const afterFirst = statements();
    await usage.record(registered, T0 + 1_000);
    await usage.record(registered, T0 + RESOLUTION_MS - 1);
    assert.equal(statements(), afterFirst, 'nothing sent within the minute');
    await usage.record(registered, T0 + RESOLUTION_MS);
    assert.equal(statements(), afterFirst + 1);
    const use = (await usage.all()).get(registered.clientId);
    assert.deepEqual(use && [use.firstUsedAt, use.lastUsedAt], [T0, T0 + RESOLUTION_MS]);
  });

  test('a metadata-document client\'s use is sent each time (another replica may have deleted its row), and stored once a minute', async () => {
    const { db, statements } = counting(database.db);
    const usage = new ClientUsage(db, clock);
    await usage.record(client, T0);
    const afterFirst = statements();
    await usage.record(client, T0 + 1_000);
    assert.equal(statements(), afterFirst + 1, 'sent within the minute');
    let use = (await usage.all()).get(client.clientId);
    assert.deepEqual(use && [use.firstUsedAt, use.lastUsedAt, use.clientName], [T0, T0, 'App'], 'the row is not changed within the minute');
    await database.db.run('DELETE FROM client_usage WHERE client_id = ?', [client.clientId]); // another replica's forget
    await usage.record(client, T0 + 2_000);
    use = (await usage.all()).get(client.clientId);
    assert.deepEqual(use && [use.firstUsedAt, use.lastUsedAt], [T0 + 2_000, T0 + 2_000], 'stored again at once');
  });

  test('a client an admin forgot is stored again at its next use, even within the minute', async () => {
    const usage = new ClientUsage(database.db, clock);
    await usage.record(client, T0);
    await usage.forget(client.clientId);
    await usage.record(client, T0 + 1_000);
    const use = (await usage.all()).get(client.clientId);
    assert.deepEqual(use && [use.firstUsedAt, use.lastUsedAt], [T0 + 1_000, T0 + 1_000]);
  });

  test('a use stored by another replica within the minute is not overwritten with an older one', async () => {
    const usageA = new ClientUsage(database.db, clock);
    const usageB = new ClientUsage(await database.reopen(), clock);
    await usageA.record(client, T0);
    await usageB.record(client, T0 + RESOLUTION_MS + 5_000);
    await usageA.record(client, T0 + RESOLUTION_MS + 1_000);
    assert.equal((await usageA.all()).get(client.clientId)?.lastUsedAt, T0 + RESOLUTION_MS + 5_000);
  });
});

for (const backend of TEST_BACKENDS) describe(`a client use that cannot be stored (${backend})`, () => {
  let docs: DocumentServer;
  let server: TestAuthServer;
  const logged: Array<Record<string, unknown>> = [];

  before(async () => {
    docs = await startDocumentServer();
    server = await startAuthServer({
      backend,
      logger: createLogger('auth-server', 'warn', { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) }),
      ...readingDocumentsFrom(docs),
    });
  });
  after(async () => {
    await server?.close();
    await docs?.close();
  });

  // The tokens are stored before the use is recorded: answered with an error, the client would
  // send its code or refresh token again, a reuse that revokes the grant.
  test('a metadata-document client still gets its tokens, and the failure is logged once per token request', async () => {
    const clientId = `${docs.origin}/usage-refused.json`;
    docs.json('/usage-refused.json', claudeCodeDocument(clientId));
    const refused = await refuseInserts(server.auth.database, 'client_usage', 'client usage unavailable');
    let tokens;
    let refreshed;
    try {
      const result = await connect(server.issuer, { clientId, redirectUri: 'http://localhost:54321/callback', scope: 'mcp:read', resource: 'http://localhost:4001/mcp', username: 'admin', password: ADMIN_PASSWORD });
      tokens = await redeem(server.issuer, { client_id: clientId }, result);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      refreshed = await refresh(server.issuer, { client_id: clientId }, tokens.body.refresh_token as string);
      assert.equal(refreshed.status, 200, 'the refresh token issued works: the code was not taken for a replay');
    } finally {
      await refused.restore();
    }
    const warnings = logged.filter((line) => line.client_id === clientId);
    assert.equal(warnings.length, 2, 'one line for each of the two token requests');
    for (const line of warnings) {
      assert.equal(line.level, 40);
      assert.match(String(line.msg), /could not be recorded/);
      assert.match(JSON.stringify(line), /client usage unavailable/);
      for (const secret of [tokens.body.access_token, tokens.body.refresh_token, refreshed.body.refresh_token]) {
        assert.ok(!JSON.stringify(line).includes(String(secret)), 'no token in the line');
      }
    }
    assert.equal((await server.auth.admin.clientUsage.all()).has(clientId), false);
    assert.equal((await refresh(server.issuer, { client_id: clientId }, refreshed.body.refresh_token as string)).status, 200);
    assert.equal((await server.auth.admin.clientUsage.all()).has(clientId), true, 'recorded at its next token request');
  });
});
