/**
 * Another user's request for a session id must leave the owner's session alone, also while the
 * session is being rebuilt on this process (opened on another replica, after a restart, or let go
 * of here).
 *
 * find(id, subject) refuses another subject without the database only when the session is
 * already held here. Otherwise it asks the store, which has no record for that subject; by then the
 * owner's own request may have rebuilt the session here, and closing "whatever is held under this
 * id" would end the owner's MCP server (calls in flight, open stream) on another user's say-so.
 * test/mcp/mcp-sessions.test.ts holds the rule ("refused, and leaves the session to its owner")
 * for a held session; this holds it for that race.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { systemClock } from '../../apps/shared/clock.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { McpSessions } from '../../apps/resource-server/src/mcp/mcp-sessions.ts';
import { McpSessionStore } from '../../apps/resource-server/src/storage/mcp-session-store.ts';
import { testDatabaseSettings } from '../helpers/test-database.ts';

let dir: string;
let db: SqlDatabase;
let sessions: McpSessions;
const built: Server[] = [];
const limits = { maxSessions: 100, maxSessionsPerSubject: 10 };
/** Mallory's store lookup answers only once this is resolved (her query is the slower one). */
let releaseMallory: () => void = () => {};
const malloryMayAnswer = new Promise<void>((resolve) => { releaseMallory = resolve; });

class SlowForMallory extends McpSessionStore {
  override async touch(id: string, subject: string, idleSince: number, now: number) {
    const answer = super.touch(id, subject, idleSince, now);
    if (subject === 'mallory') await malloryMayAnswer;
    return answer;
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-rebuilt-session-'));
  db = await openDatabase(await testDatabaseSettings('sqlite', join(dir, 'resource-server.db')), 'resource-server');
  sessions = new McpSessions({
    createServer: () => {
      const server = new Server({ name: 'test', version: '1.0.0' }, { capabilities: { tools: {} } });
      built.push(server);
      return server;
    },
    store: new SlowForMallory(db),
    idleTtlMs: 60_000,
    ...limits,
    logger: createLogger('resource-server', 'silent'),
    clock: systemClock,
  });
});
after(async () => {
  await sessions?.closeAll();
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('another user\'s request for a session id does not close the owner\'s session being rebuilt here', async () => {
  const id = randomUUID();
  const params = { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } };
  // Opened on another replica: recorded, not held here.
  await store().open({ id, subject: 'alice', protocolVersion: '2025-11-25', initializeParams: params }, limits, Date.now());

  // Mallory sends Alice's session id with her own token; Alice's own request arrives meanwhile.
  const mallory = sessions.find(id, 'mallory');
  const alice = await sessions.find(id, 'alice');
  assert.ok(alice, 'Alice\'s session is rebuilt here');
  let closed = false;
  alice.server.onclose = ((previous) => () => { closed = true; previous?.(); })(alice.server.onclose);
  releaseMallory();
  assert.equal(await mallory, undefined, 'Mallory is refused');

  assert.equal(closed, false, 'Mallory\'s refused request closed Alice\'s MCP server (her calls in flight and her stream with it)');
  const before = built.length;
  assert.equal(await sessions.find(id, 'alice'), alice, 'Alice\'s next request finds her session as it was');
  assert.equal(built.length, before, 'no rebuild needed');
});

function store(): McpSessionStore {
  return new McpSessionStore(db);
}
