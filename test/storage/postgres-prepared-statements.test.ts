/**
 * Prepared statements on PostgreSQL: each statement the apps send is parsed and planned once per
 * connection, not on every call; a rolling upgrade, where a newer replica migrates the schema
 * under older ones, never leaves an older replica failing on a statement it prepared before; and
 * `database.prepared_statements: false` (a transaction-mode pooler that does not keep them)
 * sends every statement unnamed.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../../apps/shared/config/load-config.ts';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import { isStalePlan, PostgresDatabase } from '../../apps/shared/storage/postgres-database.ts';
import { MAX_NAMED_STATEMENTS } from '../../apps/shared/storage/statement-names.ts';
import type { SqlExecutor } from '../../apps/shared/storage/sql-database.ts';
import { createTestPostgresDatabase, TEST_BACKENDS } from '../helpers/test-database.ts';

/** The statements prepared in the session of `db`'s one connection. */
async function prepared(db: SqlExecutor): Promise<string[]> {
  // The query's own text is left out: whether it is itself prepared depends on the bound.
  const rows = await db.all<{ statement: string }>('SELECT statement FROM pg_prepared_statements WHERE NOT from_sql');
  return rows.map((row) => row.statement).filter((text) => !text.includes('pg_prepared_statements'));
}

describe('prepared statements on PostgreSQL', { skip: !TEST_BACKENDS.includes('postgres') && 'PostgreSQL is not among GATEHOUSE_TEST_BACKENDS' }, () => {
  let url: string;
  /** Another replica's connection: runs the migrations of a newer version. */
  let otherReplica: pg.Client;
  let db: PostgresDatabase;

  before(async () => {
    url = await createTestPostgresDatabase();
    otherReplica = new pg.Client({ connectionString: url });
    await otherReplica.connect();
  });
  after(async () => {
    await db?.close();
    await otherReplica.end();
  });
  beforeEach(async () => {
    await db?.close();
    await otherReplica.query('DROP TABLE IF EXISTS sample_rows');
    await otherReplica.query("CREATE TABLE sample_rows (id TEXT PRIMARY KEY, hits INTEGER NOT NULL); INSERT INTO sample_rows VALUES ('g1', 7)");
    // One connection, so every statement below runs in the session the assertions look at.
    db = new PostgresDatabase({ url, maxConnections: 1 });
  });

  test('a statement sent again is prepared once on its connection, and answers as before', async () => {
    for (let i = 0; i < 3; i++) assert.deepEqual(await db.get('SELECT hits FROM sample_rows WHERE id = ?', ['g1']), { hits: 7 });
    await db.run('UPDATE sample_rows SET hits = hits + 1 WHERE id = @id', { id: 'g1' });
    assert.deepEqual((await prepared(db)).sort(), ['SELECT hits FROM sample_rows WHERE id = $1', 'UPDATE sample_rows SET hits = hits + 1 WHERE id = $1']);
    assert.deepEqual(await db.get('SELECT hits FROM sample_rows WHERE id = ?', ['g1']), { hits: 8 });
  });

  test('statements inside a transaction are prepared on its connection too', async () => {
    await db.transaction(async (tx) => {
      await tx.run('UPDATE sample_rows SET hits = ? WHERE id = ?', [9, 'g1']);
      assert.deepEqual(await prepared(tx), ['UPDATE sample_rows SET hits = $1 WHERE id = $2']);
    });
    assert.deepEqual(await db.get('SELECT hits FROM sample_rows WHERE id = ?', ['g1']), { hits: 9 });
  });

  test('rolling upgrade: a column added by a newer replica breaks no statement an older one prepared, in a transaction or not', async () => {
    const read = (tx: SqlExecutor) => Promise.all([
      tx.get('SELECT * FROM sample_rows WHERE id = ?', ['g1']),
      tx.get('SELECT hits FROM sample_rows WHERE id = ?', ['g1']),
      tx.get("UPDATE sample_rows SET hits = hits WHERE id = ? RETURNING *", ['g1']),
    ]);
    await db.transaction(read);
    await read(db);
    await otherReplica.query("ALTER TABLE sample_rows ADD COLUMN label TEXT NOT NULL DEFAULT 'new'");
    // Inside a transaction a refused statement cannot be sent again: nothing may be refused.
    const full = { id: 'g1', hits: 7, label: 'new' };
    assert.deepEqual(await db.transaction(read), [full, { hits: 7 }, full]);
    assert.deepEqual(await read(db), [full, { hits: 7 }, full]);
    // The statements whose columns follow the table's were sent unnamed.
    assert.deepEqual(await prepared(db), ['SELECT hits FROM sample_rows WHERE id = $1']);
  });

  test('rolling upgrade: a column whose type a newer replica changes costs at most one failed transaction, never a failed statement outside one', async () => {
    const hits = (tx: SqlExecutor) => tx.get<{ hits: unknown }>('SELECT hits FROM sample_rows WHERE id = ?', ['g1']);
    await hits(db);
    await otherReplica.query('ALTER TABLE sample_rows ALTER COLUMN hits TYPE BIGINT');
    // Outside a transaction: sent again on a fresh connection, so the caller sees only the answer.
    assert.deepEqual(await hits(db), { hits: 7 });

    await db.transaction(hits);
    await otherReplica.query('ALTER TABLE sample_rows ALTER COLUMN hits TYPE TEXT');
    await assert.rejects(db.transaction(hits), (err) => isStalePlan(err));
    // That connection was closed, not pooled again: the next transaction plans afresh.
    assert.deepEqual(await db.transaction(hits), { hits: '7' });
  });

  test(`past ${MAX_NAMED_STATEMENTS} distinct statements, the rest run unnamed and still answer`, async () => {
    for (let i = 0; i < MAX_NAMED_STATEMENTS + 20; i++) {
      assert.deepEqual(await db.get(`SELECT ${i} AS n, hits FROM sample_rows WHERE id = ?`, ['g1']), { n: i, hits: 7 });
    }
    assert.equal((await prepared(db)).length, MAX_NAMED_STATEMENTS);
  });

  const settings: Array<[string, Record<string, string>, boolean]> = [
    ['by default', {}, true],
    ['with DATABASE_PREPARED_STATEMENTS=false', { DATABASE_PREPARED_STATEMENTS: 'false' }, false],
  ];
  for (const [when, env, named] of settings) {
    test(`an app's database ${when} ${named ? 'prepares' : 'prepares nothing, for a pooler that does not keep them'}`, async () => {
      const config = loadConfig({ ...env, DATABASE_URL: url, DATABASE_MAX_CONNECTIONS: '1', GATEHOUSE_KEY_ENCRYPTION_KEY: 'a'.repeat(64) }, process.cwd());
      assert.equal(config.authServer.database.postgres?.preparedStatements, named);
      const app = await openDatabase(config.authServer.database, 'auth-server');
      try {
        assert.deepEqual(await app.get('SELECT hits FROM sample_rows WHERE id = ?', ['g1']), { hits: 7 });
        assert.deepEqual(await prepared(app), named ? ['SELECT hits FROM sample_rows WHERE id = $1'] : []);
      } finally {
        await app.close();
      }
    });
  }
});
