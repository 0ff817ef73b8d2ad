/**
 * A body that is valid JSON but not a JSON-RPC 2.0 message (an id that is an object, a boolean or
 * a fraction, a method that is a number, params that are not an object, an empty batch, a bare
 * number) is -32600 Invalid Request (JSON-RPC 2.0 §5.1, §6: "The JSON sent is not a valid Request
 * object"), not -32700 Parse error, which is for text that is not JSON at all. The MCP SDK 1.x
 * answered every such body -32700 (typescript-sdk#563), and an empty batch 202 Accepted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openSession } from '../helpers/mcp-http.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';

const NOT_JSON_RPC: Array<[what: string, body: string]> = [
  ['an id that is an object', '{"jsonrpc":"2.0","id":{},"method":"tools/list"}'],
  ['an id that is a boolean', '{"jsonrpc":"2.0","id":true,"method":"tools/list"}'],
  ['a fractional id', '{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}'],
  ['a method that is a number', '{"jsonrpc":"2.0","id":1,"method":5}'],
  ['params that are an array', '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[1]}'],
  ['params that are a string', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"x"}'],
  ['an empty object', '{}'],
  ['an empty batch', '[]'],
  ['a batch of numbers', '[1,2,3]'],
  ['a bare number', '5'],
  ['null', 'null'],
];

describe('MCP bodies that are JSON but not JSON-RPC', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let token: string;
  let sessionId: string;
  const headers = (extra: Record<string, string> = {}) => ({
    Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
    'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-11-25', ...extra,
  });

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer });
    token = await issuer.mint();
    sessionId = await openSession(server.mcpUrl, token);
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  for (const [what, body] of NOT_JSON_RPC) {
    test(`${what}: 400 with -32600 Invalid Request, in a session and without one`, async () => {
      for (const sent of [headers(), headers({ 'Mcp-Session-Id': '' })]) {
        const response = await fetch(server.mcpUrl, { method: 'POST', headers: sent, body });
        const text = await response.text();
        assert.equal(response.status, 400, text);
        assert.deepEqual(JSON.parse(text), { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request: the body is not a JSON-RPC 2.0 message' }, id: null });
      }
    });
  }

  test('text that is not JSON is still -32700 Parse error', async () => {
    const response = await fetch(server.mcpUrl, { method: 'POST', headers: headers(), body: '{"jsonrpc":' });
    assert.equal(response.status, 400);
    assert.equal((await response.json() as { error: { code: number } }).error.code, -32700);
  });

  test('the SDK\'s refusals that come first stay: 406 without both Accept types, 404 for an unknown session', async () => {
    const notAcceptable = await fetch(server.mcpUrl, { method: 'POST', headers: headers({ Accept: 'application/json' }), body: '[]' });
    assert.equal(notAcceptable.status, 406, await notAcceptable.text());
    const unknown = await fetch(server.mcpUrl, { method: 'POST', headers: headers({ 'Mcp-Session-Id': 'nope' }), body: '[]' });
    assert.equal(unknown.status, 404, await unknown.text());
  });

  test('a notification and a request are still served', async () => {
    const notification = await fetch(server.mcpUrl, { method: 'POST', headers: headers(), body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    assert.equal(notification.status, 202, await notification.text());
    const request = await fetch(server.mcpUrl, { method: 'POST', headers: headers(), body: JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'tools/list' }) });
    const text = await request.text();
    assert.equal(request.status, 200, text);
    assert.match(text, /"id":8/);
  });
});
