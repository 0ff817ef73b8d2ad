/**
 * SQLite's writes committed in groups (apps/shared/storage/group-commit.ts): the writes of one
 * event-loop turn share one transaction, each is acknowledged only once that transaction is
 * committed, and grouping changes nothing a caller can see about order or failures.
 *
 * "Seen elsewhere" is what a second connection to the same file reads: only committed rows.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteDatabase } from '../../apps/shared/storage/sqlite-database.ts';

describe('SQLite writes committed in groups', () => {
  let dir: string;
  let file: string;
  let db: SqliteDatabase;
  let elsewhere: Database.Database;
  const committedRows = () => elsewhere.prepare('SELECT count(*) FROM t').pluck().get() as number;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-group-commit-'));
    file = join(dir, 'app.db');
    db = new SqliteDatabase(file, { groupCommit: true });
    db.exec('CREATE TABLE t (n INTEGER PRIMARY KEY, seen INTEGER)');
    elsewhere = new Database(file, { readonly: true });
    // Evaluated while each INSERT runs: how many rows another connection sees committed then.
    db.handle.function('committed_elsewhere', () => committedRows());
  });
  afterEach(async () => {
    elsewhere.close();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const insert = (n: number) => db.run('INSERT INTO t (n, seen) VALUES (?, committed_elsewhere())', [n]);
  const seen = async () => (await db.all<{ seen: number }>('SELECT seen FROM t ORDER BY n')).map((row) => row.seen);

  test('the writes of one turn share one commit; each is acknowledged once it is committed', async () => {
    const acknowledged = [insert(1), insert(2), insert(3)];
    assert.equal(committedRows(), 0, 'nothing is committed (or acknowledged) within the turn');
    const results = await Promise.all(acknowledged);
    assert.deepEqual(results, [{ changes: 1 }, { changes: 1 }, { changes: 1 }]);
    assert.equal(committedRows(), 3, 'committed when acknowledged');
    // One by one, the second and third INSERT would each have seen the rows before them committed.
    assert.deepEqual(await seen(), [0, 0, 0]);

    await insert(4);
    assert.deepEqual(await seen(), [0, 0, 0, 3], 'a write of a later turn is a group of its own');
  });

  test('a write issued once an earlier one is acknowledged is committed before the next turn', async () => {
    const order: string[] = [];
    await insert(1).then(async () => {
      setImmediate(() => order.push('next turn'));
      await insert(2);
      order.push('second write committed');
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, ['second write committed', 'next turn']);
  });

  test('without the option (the resource server, the CLI) each write commits on its own, at once', async () => {
    await db.close();
    db = new SqliteDatabase(file);
    db.handle.function('committed_elsewhere', () => committedRows());
    const written = [insert(1), insert(2), insert(3)];
    assert.equal(committedRows(), 3);
    await Promise.all(written);
    assert.deepEqual(await seen(), [0, 1, 2]);
  });

  test('a write that fails fails alone: the rest of its group commits', async () => {
    await insert(1);
    const outcomes = await Promise.allSettled([insert(2), insert(1), insert(3)]);
    assert.deepEqual(outcomes.map((outcome) => outcome.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /UNIQUE constraint failed/);
    assert.equal(committedRows(), 3);
  });

  test('a group that cannot commit is run again write by write, each with its own outcome', async () => {
    // RAISE(ROLLBACK) ends the whole transaction, taking the group's earlier writes with it.
    db.exec("CREATE TRIGGER refuse_13 BEFORE INSERT ON t WHEN NEW.n = 13 BEGIN SELECT RAISE(ROLLBACK, 'thirteen refused'); END");
    const outcomes = await Promise.allSettled([insert(11), insert(12), insert(13), insert(14)]);
    assert.deepEqual(outcomes.map((outcome) => outcome.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    assert.match(String((outcomes[2] as PromiseRejectedResult).reason), /thirteen refused/);
    assert.deepEqual((await db.all<{ n: number }>('SELECT n FROM t ORDER BY n')).map((row) => row.n), [11, 12, 14]);
    assert.equal(db.handle.inTransaction, false);
  });

  test('a transaction begins after the writes queued before it', async () => {
    const queued = insert(1);
    const inside = await db.transaction(async (tx) => tx.get<{ n: number }>('SELECT count(*) AS n FROM t'));
    assert.equal(inside?.n, 1);
    await queued;
  });

  test('a write through RETURNING runs after the writes queued before it', async () => {
    const queued = insert(1);
    const returned = await db.get<{ n: number }>('INSERT INTO t (n) SELECT max(n) + 1 FROM t RETURNING n');
    assert.equal(returned?.n, 2);
    await queued;
  });

  test('closing commits what is queued, so a clean stop loses no write', async () => {
    const queued = insert(1);
    await db.close();
    await queued;
    assert.equal(committedRows(), 1);
    db = new SqliteDatabase(file, { groupCommit: true });
  });
});
