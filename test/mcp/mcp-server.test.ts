/**
 * The MCP server on its own (SDK in-memory transport, no HTTP): its second scope gate, which keeps
 * a tool closed even for a request that got past the HTTP layer, its refusal to run tools for a
 * request without a verified token, and that unexpected failures never leak their message.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { createMcpServer } from '../../apps/resource-server/src/mcp/create-mcp-server.ts';
import { Gateway } from '../../apps/resource-server/src/gateway/gateway.ts';
import { AuditStore } from '../../apps/resource-server/src/storage/audit-store.ts';
import { NoteStore } from '../../apps/resource-server/src/storage/note-store.ts';
import type { VerifiedAccessToken } from '../../apps/resource-server/src/auth/verify-access-token.ts';

function tokenWith(scopes: string[]): VerifiedAccessToken {
  return { token: 't', clientId: 'client', scopes, expiresAt: 2_000_000_000, extra: { subject: 'user-1', tokenId: 'jti' } };
}

function errorText(result: Awaited<ReturnType<Client['callTool']>>): string {
  assert.equal(result.isError, true);
  return (result.content as Array<{ text: string }>)[0]!.text;
}

describe('MCP server', () => {
  let dir: string;
  let db: SqlDatabase;
  const logged: string[] = [];
  const logger = pino({ level: 'error' }, new Writable({ write(chunk, _encoding, done) { logged.push(String(chunk)); done(); } }));

  const audits: AuditStore[] = [];

  /** A client whose every request reaches the server carrying `authInfo`, as the HTTP transport passes it. */
  async function connect(authInfo: AuthInfo | undefined, notes = new NoteStore(db)): Promise<{ client: Client; audit: AuditStore }> {
    const audit = new AuditStore(db, (err) => assert.fail(String(err)));
    audits.push(audit);
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const send = clientSide.send.bind(clientSide);
    clientSide.send = (message, options) => send(message, { ...options, authInfo });
    const gateway = new Gateway({ servers: [], maxProcesses: 1, maxProcessesPerUser: 1, logger });
    await createMcpServer({ notes, audit, logger, gateway, builtInTools: true, subject: 'user-1' }).connect(serverSide);
    const client = new Client({ name: 'in-memory', version: '1.0.0' });
    await client.connect(clientSide);
    return { client, audit };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-rs-mcp-'));
    db = await openDatabase({ sqliteFile: join(dir, 'resource-server.db') }, 'resource-server');
  });
  after(async () => {
    // Audit records are written in batches a little later: write the last ones before closing.
    await Promise.all(audits.map((audit) => audit.flush()));
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('refuses a tool whose scope the token lacks, even past the HTTP layer, and records it', async () => {
    const { client, audit } = await connect(tokenWith(['mcp:read']));
    assert.match(errorText(await client.callTool({ name: 'create_note', arguments: { title: 'x' } })), /needs the mcp:write scope/);
    assert.deepEqual((await audit.recent(1)).map(({ tool, outcome }) => ({ tool, outcome })), [{ tool: 'create_note', outcome: 'denied' }]);
    await client.close();
  });

  test('runs no tool for a request without a verified token', async () => {
    const { client } = await connect(undefined);
    assert.match(errorText(await client.callTool({ name: 'whoami', arguments: {} })), /authenticated caller/);
    await client.close();
  });

  test('reports an unexpected failure generically and logs it', async () => {
    const broken = new NoteStore(db);
    broken.list = async () => {
      throw new Error('SQLITE_CORRUPT: database disk image is malformed');
    };
    const { client } = await connect(tokenWith(['mcp:read']), broken);
    const text = errorText(await client.callTool({ name: 'list_notes', arguments: {} }));
    assert.match(text, /problem on the server/);
    assert.doesNotMatch(text, /SQLITE/);
    assert.ok(logged.some((line) => line.includes('SQLITE_CORRUPT')));
    await client.close();
  });
});
