/**
 * The resource-server's own tables on a real SQLite file: notes stay with their owner and are
 * capped per user; the audit trail is swept after its retention.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../../apps/shared/database.ts';
import { migrationsDir } from '../../apps/shared/storage/open-database.ts';
import { migrateSqlite, SqliteDatabase } from '../../apps/shared/storage/sqlite-database.ts';
import { AuditStore } from '../../apps/resource-server/src/storage/audit-store.ts';
import { MAX_NOTES_PER_USER, NoteLimitReachedError, NoteStore } from '../../apps/resource-server/src/storage/note-store.ts';

describe('resource-server storage', () => {
  let dir: string;
  let db: Db;
  let database: SqliteDatabase;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-rs-db-'));
    database = new SqliteDatabase(join(dir, 'resource-server.db'));
    migrateSqlite(database, migrationsDir('sqlite', 'resource-server'));
    db = database.handle;
  });
  after(() => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('migrations apply once', () => {
    assert.deepEqual(migrateSqlite(database, migrationsDir('sqlite', 'resource-server')), []);
  });

  test('caps the notes one user can keep, without affecting others', () => {
    const notes = new NoteStore(db);
    const insertMany = db.transaction(() => {
      for (let i = 0; i < MAX_NOTES_PER_USER; i += 1) notes.create('hoarder', `note ${i}`, '');
    });
    insertMany();
    assert.throws(() => notes.create('hoarder', 'one more', ''), NoteLimitReachedError);
    assert.ok(notes.create('someone-else', 'fine', ''));
  });

  test('lists a user\'s notes newest first, up to the limit', () => {
    const notes = new NoteStore(db);
    notes.create('lister', 'old', '', 1_000);
    notes.create('lister', 'new', '', 2_000);
    assert.deepEqual(notes.list('lister', 1).map((note) => note.title), ['new']);
    assert.deepEqual(notes.list('lister', 10).map((note) => note.title), ['new', 'old']);
  });

  test('sweeps audit records older than the retention', () => {
    const audit = new AuditStore(db);
    const now = Date.now();
    const call = { subject: 's', clientId: 'c', tool: 'whoami', outcome: 'ok' as const };
    audit.record({ ...call, tool: 'old' }, now - 8 * 86400_000);
    audit.record({ ...call, tool: 'recent' }, now - 86400_000);
    assert.equal(audit.sweep(7 * 86400, now), 1);
    assert.deepEqual(audit.recent(10).map((entry) => entry.tool), ['recent']);
  });

  test('tool calls finishing in one turn of the event loop are written together, in one transaction, after that turn\'s answers, and reads see them at once', async () => {
    const audit = new AuditStore(db);
    const call = { subject: 'batch', clientId: 'c', server: 'files', tool: 'files__read', outcome: 'ok' as const, durationMs: 3 };
    const count = () => db.prepare("SELECT count(*) FROM tool_calls WHERE subject = 'batch'").pluck().get() as number;
    audit.record(call);
    audit.record(call);
    audit.record(call);
    assert.equal(count(), 0, 'not written on the request path');
    const other = new SqliteDatabase(join(dir, 'resource-server.db')).handle;
    const seenBefore = other.pragma('data_version', { simple: true }) as number;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(count(), 0, 'not at the next turn either, where the answers of the recording turn are sent');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(count(), 3, 'written at the turn after');
    assert.equal((other.pragma('data_version', { simple: true }) as number) - seenBefore, 1, 'in one commit');
    other.close();
    audit.record({ ...call, tool: 'files__write' });
    assert.equal(audit.recent(1)[0]!.tool, 'files__write', 'a read flushes what is queued first');
  });

  test('a queued write that fails is reported, not thrown into the event loop', async () => {
    const scratchDatabase = new SqliteDatabase(join(dir, 'scratch.db'));
    migrateSqlite(scratchDatabase, migrationsDir('sqlite', 'resource-server'));
    const scratch = scratchDatabase.handle;
    const failures: unknown[] = [];
    const audit = new AuditStore(scratch, (err) => failures.push(err));
    audit.record({ subject: 's', clientId: 'c', tool: 'whoami', outcome: 'ok' });
    scratch.close();
    await new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
    assert.equal(failures.length, 1);
  });
});
