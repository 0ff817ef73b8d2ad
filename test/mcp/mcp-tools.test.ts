/**
 * The MCP tools through the real MCP SDK client (Client + StreamableHTTPClientTransport with a
 * static bearer token): discovery, whoami, per-user notes, scope gating with the 403 step-up
 * challenge, the audit trail, and tool errors that stay tool errors.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPError, type StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { connectClient, mcpRequest, parseChallenge } from '../helpers/mcp-http.ts';

type ToolResult = Awaited<ReturnType<Client['callTool']>>;

function structured<T = Record<string, unknown>>(result: ToolResult): T {
  assert.equal(result.isError, undefined, `tool failed: ${JSON.stringify(result.content)}`);
  return result.structuredContent as T;
}

function errorText(result: ToolResult): string {
  assert.equal(result.isError, true, 'expected a tool error');
  return (result.content as Array<{ text: string }>)[0]!.text;
}

describe('MCP tools', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const clients: Client[] = [];

  const alice = { sub: randomUUID(), preferred_username: 'alice' };
  const bob = { sub: randomUUID(), preferred_username: 'bob' };

  async function connectAs(claims: Record<string, unknown>): Promise<{ client: Client; transport: StreamableHTTPClientTransport; token: string }> {
    const token = await issuer.mint({ claims });
    const connected = await connectClient(server.mcpUrl, token);
    clients.push(connected.client);
    return { ...connected, token };
  }

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer });
  });
  after(async () => {
    for (const client of clients) await client.close();
    await server?.close();
    await issuer?.close();
  });

  test('initialize names the server and offers tools', async () => {
    const { client } = await connectAs(alice);
    assert.equal(client.getServerVersion()?.name, 'gatehouse');
    assert.ok(client.getServerCapabilities()?.tools);
  });

  test('tools/list shows every tool with a description, an input schema and its scope', async () => {
    const { client } = await connectAs({ ...alice, scope: 'mcp:read' });
    const { tools } = await client.listTools();
    const scopes: Record<string, string> = {
      whoami: 'mcp:read', list_notes: 'mcp:read', get_note: 'mcp:read',
      create_note: 'mcp:write', delete_note: 'mcp:write', recent_activity: 'mcp:admin',
    };
    assert.deepEqual(tools.map((tool) => tool.name).sort(), Object.keys(scopes).sort());
    for (const tool of tools) {
      assert.equal(tool.inputSchema.type, 'object');
      assert.ok(tool.description && tool.description.length > 40, `${tool.name} explains itself`);
      assert.match(tool.description, new RegExp(`Needs the ${scopes[tool.name]} scope`));
    }
    const createNote = tools.find((tool) => tool.name === 'create_note')!;
    assert.deepEqual(createNote.inputSchema.required, ['title']);
  });

  test('whoami shows the caller as the token says', async () => {
    const exp = Math.floor(Date.now() / 1000) + 1800;
    const { client } = await connectAs({ ...alice, client_id: 'claude-desktop', scope: 'mcp:read mcp:write', exp });
    assert.deepEqual(structured(await client.callTool({ name: 'whoami', arguments: {} })), {
      subject: alice.sub,
      username: 'alice',
      client_id: 'claude-desktop',
      scopes: ['mcp:read', 'mcp:write'],
      expires_at: new Date(exp * 1000).toISOString(),
    });
  });

  test('whoami shows only the subject when the token has no username', async () => {
    const { client } = await connectAs({ sub: alice.sub, preferred_username: undefined });
    const me = structured(await client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(me.subject, alice.sub);
    assert.equal('username' in me, false);
  });

  test('a user creates, lists, reads and deletes their own notes', async () => {
    const { client } = await connectAs({ sub: randomUUID() });
    const created = structured<{ id: string; title: string }>(await client.callTool({ name: 'create_note', arguments: { title: 'Groceries', body: 'eggs, milk' } }));
    assert.equal(created.title, 'Groceries');
    const listed = structured<{ notes: Array<{ id: string; title: string }> }>(await client.callTool({ name: 'list_notes', arguments: {} }));
    assert.deepEqual(listed.notes.map(({ id, title }) => ({ id, title })), [{ id: created.id, title: 'Groceries' }]);
    const note = structured(await client.callTool({ name: 'get_note', arguments: { id: created.id } }));
    assert.equal(note.body, 'eggs, milk');
    assert.deepEqual(structured(await client.callTool({ name: 'delete_note', arguments: { id: created.id } })), { deleted: created.id });
    assert.deepEqual(structured(await client.callTool({ name: 'list_notes', arguments: {} })), { notes: [] });
  });

  test('one user never sees, reads or deletes another user\'s notes', async () => {
    const { client: aliceClient } = await connectAs(alice);
    const { client: bobClient } = await connectAs(bob);
    const secret = structured<{ id: string }>(await aliceClient.callTool({ name: 'create_note', arguments: { title: 'Alice only', body: 'secret' } }));

    assert.deepEqual(structured(await bobClient.callTool({ name: 'list_notes', arguments: {} })), { notes: [] });
    assert.match(errorText(await bobClient.callTool({ name: 'get_note', arguments: { id: secret.id } })), /no note with id/);
    assert.match(errorText(await bobClient.callTool({ name: 'delete_note', arguments: { id: secret.id } })), /no note with id/);

    const stillThere = structured<{ notes: Array<{ id: string }> }>(await aliceClient.callTool({ name: 'list_notes', arguments: {} }));
    assert.ok(stillThere.notes.some((note) => note.id === secret.id));
  });

  test('create_note with a read-only token fails with HTTP 403 insufficient_scope', async () => {
    const { client } = await connectAs({ ...alice, scope: 'mcp:read' });
    await assert.rejects(
      client.callTool({ name: 'create_note', arguments: { title: 'nope' } }),
      (err: unknown) => err instanceof StreamableHTTPError && err.code === 403,
    );
    assert.ok(structured(await client.callTool({ name: 'whoami', arguments: {} })), 'the session carries on');
  });

  test('the 403 challenge names error, the scopes to ask for and the metadata URL', async () => {
    const { transport, token } = await connectAs({ ...alice, scope: 'mcp:read' });
    const response = await mcpRequest(server.mcpUrl, {
      token,
      headers: { 'Mcp-Session-Id': transport.sessionId!, 'MCP-Protocol-Version': '2025-11-25' },
      body: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'create_note', arguments: { title: 'nope' } } },
    });
    assert.equal(response.status, 403);
    const challenge = parseChallenge(response.headers.get('www-authenticate'));
    assert.equal(challenge.scheme, 'Bearer');
    assert.equal(challenge.params.error, 'insufficient_scope');
    // The scopes already granted plus the one needed (MCP 2025-11-25: the client re-asks for these).
    assert.equal(challenge.params.scope, 'mcp:read mcp:write');
    assert.equal(challenge.params.resource_metadata, 'http://localhost:4001/.well-known/oauth-protected-resource/mcp');
  });

  test('a batch is refused 403 when any of its calls needs a scope the token lacks, naming each', async () => {
    const { transport, token } = await connectAs({ ...alice, scope: 'mcp:read' });
    const call = (id: number, name: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: { title: 'nope' } } });
    const response = await mcpRequest(server.mcpUrl, {
      token,
      headers: { 'Mcp-Session-Id': transport.sessionId!, 'MCP-Protocol-Version': '2025-03-26' },
      body: [call(8, 'whoami'), { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } }, call(9, 'create_note'), call(10, 'recent_activity')],
    });
    assert.equal(response.status, 403);
    const challenge = parseChallenge(response.headers.get('www-authenticate'));
    assert.equal(challenge.params.scope, 'mcp:read mcp:write mcp:admin');
    assert.equal(challenge.params.error_description, 'create_note needs mcp:write, recent_activity needs mcp:admin');
  });

  test('a batch naming one refused tool a hundred times is refused once: one audit row, one mention', async () => {
    const dave = { sub: randomUUID(), preferred_username: 'dave' };
    const { transport, token } = await connectAs({ ...dave, scope: 'mcp:read' });
    const call = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'create_note', arguments: { title: 'nope' } } });
    const response = await mcpRequest(server.mcpUrl, {
      token,
      headers: { 'Mcp-Session-Id': transport.sessionId!, 'MCP-Protocol-Version': '2025-03-26' },
      body: Array.from({ length: 100 }, (_, i) => call(100 + i)),
    });
    assert.equal(response.status, 403);
    assert.equal(parseChallenge(response.headers.get('www-authenticate')).params.error_description, 'create_note needs mcp:write');
    await server.audit.flush();
    const rows = await server.db.all<{ tool: string }>("SELECT tool FROM tool_calls WHERE subject = ? AND outcome = 'denied'", [dave.sub]);
    assert.deepEqual(rows.map((row) => row.tool), ['create_note']);
  });

  test('recent_activity needs mcp:admin', async () => {
    const { client } = await connectAs({ ...alice, scope: 'mcp:read mcp:write' });
    await assert.rejects(
      client.callTool({ name: 'recent_activity', arguments: {} }),
      (err: unknown) => err instanceof StreamableHTTPError && err.code === 403,
    );
  });

  test('recent_activity shows who called which tool, with what outcome, newest first', async () => {
    const carol = { sub: randomUUID(), preferred_username: 'carol', client_id: 'vscode' };
    const { client: carolClient } = await connectAs({ ...carol, scope: 'mcp:read' });
    await carolClient.callTool({ name: 'whoami', arguments: {} });
    await carolClient.callTool({ name: 'get_note', arguments: { id: randomUUID() } });
    await assert.rejects(carolClient.callTool({ name: 'delete_note', arguments: { id: randomUUID() } }));

    const { client: admin } = await connectAs({ sub: randomUUID(), scope: 'mcp:read mcp:admin' });
    const { calls } = structured<{ calls: Array<Record<string, unknown>> }>(await admin.callTool({ name: 'recent_activity', arguments: { limit: 3 } }));
    assert.deepEqual(calls.map(({ subject, username, client_id, tool, outcome }) => ({ subject, username, client_id, tool, outcome })), [
      { subject: carol.sub, username: 'carol', client_id: 'vscode', tool: 'delete_note', outcome: 'denied' },
      { subject: carol.sub, username: 'carol', client_id: 'vscode', tool: 'get_note', outcome: 'error' },
      { subject: carol.sub, username: 'carol', client_id: 'vscode', tool: 'whoami', outcome: 'ok' },
    ]);
    for (const call of calls) assert.ok(Math.abs(Date.parse(call.at as string) - Date.now()) < 60_000, 'when, as an ISO time');
  });

  test('invalid arguments come back as a tool error, not a transport failure, and are audited as errors', async () => {
    const erin = { sub: randomUUID(), preferred_username: 'erin' };
    const { client } = await connectAs(erin);
    assert.match(errorText(await client.callTool({ name: 'get_note', arguments: { id: 'not-a-uuid' } })), /note id/);
    assert.match(errorText(await client.callTool({ name: 'create_note', arguments: { title: '' } })), /title/);
    assert.match(errorText(await client.callTool({ name: 'list_notes', arguments: { limit: 1000 } })), /limit/);
    await server.audit.flush();
    const rows = await server.db.all<{ tool: string; outcome: string }>('SELECT tool, outcome FROM tool_calls WHERE subject = ? ORDER BY id', [erin.sub]);
    assert.deepEqual(rows.map((row) => `${row.tool} ${row.outcome}`), ['get_note error', 'create_note error', 'list_notes error']);
  });

  test('an unknown tool is an MCP error, not an HTTP failure', async () => {
    const { client } = await connectAs(alice);
    const result = await client.callTool({ name: 'rm_rf', arguments: {} }).catch((err: Error) => err);
    const message = result instanceof Error ? result.message : errorText(result);
    assert.match(message, /rm_rf not found/);
  });
});
