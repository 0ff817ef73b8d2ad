/**
 * Audit events on the request path are written off it, in batches (apps/shared/storage/batched-writes.ts), and
 * none is lost on a clean stop: close() writes what is queued before the database closes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import pg from 'pg';
import { BatchedWrites } from '../../apps/shared/storage/batched-writes.ts';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import { connect, redeem, refresh, registerClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { createTestPostgresDatabase, TEST_BACKENDS, testDatabaseSettings } from '../helpers/test-database.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { RESOURCE } from './support/admin-browser.ts';

describe('batched writes', () => {
  test('the rows of one turn go in one write; a row the database refuses does not take the others with it', async () => {
    const writes: string[][] = [];
    const stored: string[] = [];
    const batched = new BatchedWrites<string>({
      async writeMany(rows) {
        writes.push(rows);
        if (rows.includes('refused')) throw new Error('constraint failed');
        stored.push(...rows);
      },
    });
    const outcomes = await Promise.allSettled(['a', 'refused', 'b'].map((row) => batched.add(row)));
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual(writes, [['a', 'refused', 'b'], ['a'], ['refused'], ['b']], 'one write for the turn, then row by row');
    assert.deepEqual(stored, ['a', 'b']);
    await batched.add('c');
    assert.deepEqual(writes.at(-1), ['c']);
  });

  test('rows pushed without a promise are written with the others, flush() waits for them, and a refused one reaches its callback with its row', async () => {
    const writes: string[][] = [];
    const stored: string[] = [];
    const refused: Array<[string, string]> = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const batched = new BatchedWrites<string>({
      async writeMany(rows) {
        writes.push(rows);
        if (rows.includes('held')) await held;
        if (rows.includes('refused')) throw new Error(`constraint failed: ${rows.join()}`);
        stored.push(...rows);
      },
    });
    const onRefused = (err: unknown, row: string) => refused.push([row, (err as Error).message]);
    batched.push('held', onRefused);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(writes, [['held']], 'the first write is in flight');
    batched.push('a', onRefused);
    const added = batched.add('b');
    batched.push('refused', onRefused);
    let flushed = false;
    const flush = batched.flush().then(() => (flushed = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(flushed, false, 'flush() waits for the write in flight and the rows behind it');
    release();
    await flush;
    await added;
    assert.deepEqual(writes, [['held'], ['a', 'b', 'refused'], ['a'], ['b'], ['refused']]);
    assert.deepEqual(stored, ['held', 'a', 'b']);
    assert.deepEqual(refused, [['refused', 'constraint failed: refused']]);
    await batched.flush();
    assert.equal(batched.waiting, 0);
  });

  test('a push callback that throws does not stop the queue', async () => {
    const batched = new BatchedWrites<string>({
      async writeMany(rows) {
        if (rows.includes('refused')) throw new Error('constraint failed');
      },
    });
    batched.push('refused', () => {
      throw new Error('the failure handler failed');
    });
    await batched.flush();
    await batched.add('next');
  });
});

for (const backend of TEST_BACKENDS) describe(`audit events on a clean stop (${backend})`, () => {
  async function startServer() {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-stop-'));
    const databaseUrl = backend === 'postgres' ? await createTestPostgresDatabase() : undefined;
    const server = await startAuthServer({ dir, databaseUrl });
    const events = async () => {
      const settings = await testDatabaseSettings(backend, server.config.authServer.database.sqliteFile, databaseUrl);
      const reader = await openDatabase(settings, 'auth-server');
      try {
        return (await reader.all<{ event: string }>('SELECT v.value AS event FROM audit_events e JOIN audit_values v ON v.id = e.event_ref ORDER BY e.id')).map((row) => row.event);
      } finally {
        await reader.close();
      }
    };
    return { server, databaseUrl, events, cleanUp: () => rmSync(dir, { recursive: true, force: true }) };
  }

  test('security events recorded just before close() are in the database after it', async () => {
    const { server, events, cleanUp } = await startServer();
    try {
      const client = await registerClient(server.issuer);
      const login = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
      const first = (await redeem(server.issuer, client, login)).body.refresh_token as string;
      assert.equal((await refresh(server.issuer, client, first)).status, 200);
      assert.equal((await refresh(server.issuer, client, first)).status, 400, 'the reused refresh token is refused');
      void server.auth.admin.audit.enqueue({ event: 'user.disabled', actor: { name: 'cli' }, details: { username: 'mallory' } });
      await server.close();
      const recorded = await events();
      for (const event of ['refresh_token.reused', 'grant.revoked', 'user.disabled']) assert.ok(recorded.includes(event), `${event} in ${recorded.join(', ')}`);
    } finally {
      cleanUp();
    }
  });

  if (backend === 'postgres') {
    test('close() waits for an event queued behind a write the database holds up', async () => {
      const { server, databaseUrl, events, cleanUp } = await startServer();
      const locker = new pg.Client({ connectionString: databaseUrl });
      await locker.connect();
      try {
        // Holds every INSERT into audit_events until COMMIT; reads go on.
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE audit_events IN EXCLUSIVE MODE');
        const { audit } = server.auth.admin;
        const held = audit.enqueue({ event: 'refresh_token.reused', actor: { name: 'system' } });
        await waitFor('the first write to wait for the lock', async () => (await locker.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'audit_events'::regclass AND NOT granted")).rows[0]!.n > 0);
        const queued = audit.enqueue({ event: 'grant.revoked', actor: { name: 'system' } });
        const databaseClosing = spyOnClose(server);
        const closed = server.close();
        // Let close() run as far as it goes on its own (to the database, if it did not wait),
        // then let the writes through.
        await Promise.race([databaseClosing, sleep(500)]);
        await locker.query('COMMIT');
        await closed;
        await Promise.all([held, queued]);
        assert.deepEqual(await events(), ['refresh_token.reused', 'grant.revoked']);
      } finally {
        await locker.end();
        cleanUp();
      }
    });
  }
});

/** Resolves when the server starts closing its database. */
function spyOnClose(server: TestAuthServer): Promise<void> {
  const { database } = server.auth;
  const close = database.close.bind(database);
  return new Promise((resolve) => {
    database.close = () => {
      resolve();
      return close();
    };
  });
}
