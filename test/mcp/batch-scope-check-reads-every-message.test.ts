/**
 * A JSON-RPC batch (served only in an MCP 2025-03-26 session) whose first call the token may make
 * and whose second it may not: a read-only token sends `[whoami, create_note]`. The HTTP scope
 * check reads every message of the batch, so the whole POST is answered 403 with the step-up
 * challenge naming `mcp:write` (error="insufficient_scope"), and nothing in the batch runs, not
 * even the allowed whoami. A check that read only the first message would pass the batch on: the
 * client would get a 200 whose create_note failed inside the MCP answer, with no challenge to step
 * up on.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { INITIALIZE, jsonRpcMessageOf, mcpRequest, parseChallenge } from '../helpers/mcp-http.ts';
import { useIssuerAndServer } from '../helpers/start-resource-server.ts';

const VERSION = '2025-03-26';
const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

describe('the scope check of a JSON-RPC batch', () => {
  const running = useIssuerAndServer();

  test('[whoami, create_note] with a read-only token: 403 insufficient_scope naming mcp:write, and neither call runs', async () => {
    const subject = randomUUID();
    const token = await running.issuer.mint({ claims: { sub: subject, scope: 'mcp:read' } });
    const opened = await mcpRequest(running.server.mcpUrl, { token, body: { ...INITIALIZE, params: { ...INITIALIZE.params, protocolVersion: VERSION } } });
    assert.equal(jsonRpcMessageOf(await opened.text()).result?.protocolVersion, VERSION);
    const headers = { 'Mcp-Session-Id': opened.headers.get('mcp-session-id')!, 'MCP-Protocol-Version': VERSION };
    const initialized = await mcpRequest(running.server.mcpUrl, { token, headers, body: { jsonrpc: '2.0', method: 'notifications/initialized' } });
    assert.equal(initialized.status, 202);

    const response = await mcpRequest(running.server.mcpUrl, { token, headers, body: [call(2, 'whoami'), call(3, 'create_note', { title: randomUUID() })] });
    const text = await response.text();
    assert.equal(response.status, 403, text);
    const challenge = parseChallenge(response.headers.get('www-authenticate'));
    assert.equal(challenge.scheme, 'Bearer');
    assert.equal(challenge.params.error, 'insufficient_scope');
    assert.equal(challenge.params.scope, 'mcp:read mcp:write', 'what the token has plus what create_note needs');
    assert.equal(challenge.params.error_description, 'create_note needs mcp:write');
    assert.deepEqual(JSON.parse(text), { error: 'insufficient_scope', error_description: 'create_note needs mcp:write' });

    // whoami did not run: the tool-call record holds only the refused create_note.
    await running.server.audit.flush();
    const rows = await running.server.db.all<{ tool: string; outcome: string }>('SELECT tool, outcome FROM tool_calls WHERE subject = ? ORDER BY id', [subject]);
    assert.deepEqual(rows.map((row) => `${row.tool} ${row.outcome}`), ['create_note denied']);
  });
});
