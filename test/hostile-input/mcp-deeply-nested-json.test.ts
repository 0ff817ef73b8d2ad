/**
 * A body nesting arrays or objects deeper than MAX_JSON_DEPTH is refused with 400 `-32600
 * Invalid Request` before anything reads it, wherever the nesting is: an `initialize` whose
 * capabilities nested 40,000 deep (some 200 kB, inside the body cap) overflowed the stack when the
 * session was stored, and the caller got a 500. Brackets inside strings do not count, and nesting
 * up to the limit passes, so the table cannot pass by refusing deep-looking bodies wholesale.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../apps/shared/logger.ts';
import { MAX_JSON_DEPTH } from '../../apps/resource-server/src/http/read-json-rpc-body.ts';
import { jsonRpcMessageOf, openSession } from '../helpers/mcp-http.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';

/** A JSON object nested `depth` deep: {"a":{"a":…1…}}. */
const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const DEEP = 40_000;
const STATELESS_META = '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}';

describe('MCP bodies nested too deep', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let token: string;
  let sessionId: string;
  const errors: string[] = [];
  const post = (body: string, headers: Record<string, string> = {}) => rawRequest(server.baseUrl, {
    method: 'POST', path: '/mcp', body,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
  });
  const inSession = () => ({ 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' });

  before(async () => {
    issuer = await startTestIssuer();
    const sink = new Writable({
      write(chunk, _encoding, done) {
        if (Number((JSON.parse(String(chunk)) as { level: number }).level) >= 50) errors.push(String(chunk));
        done();
      },
    });
    server = await startResourceServer({ issuer: issuer.issuer, logger: createLogger('resource-server', 'info', sink) });
    token = await issuer.mint();
    sessionId = await openSession(server.mcpUrl, token);
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  // [where the nesting is, the body, extra headers]
  const refused: Array<[string, () => string, () => Record<string, string>]> = [
    ['an initialize\'s capabilities', () => `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"experimental":${nested(DEEP)}},"clientInfo":{"name":"x","version":"1"}}}`, () => ({})],
    ['a tool call\'s arguments', () => `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":${nested(DEEP)}}}`, inSession],
    ['a request\'s _meta', () => `{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":${nested(DEEP)}}}`, inSession],
    ['a request id', () => `{"jsonrpc":"2.0","id":${nested(DEEP)},"method":"tools/list"}`, inSession],
    ['a batch', () => `[${'['.repeat(DEEP)}${']'.repeat(DEEP)}]`, inSession],
    ['a 2026-07-28 tool call\'s arguments', () => `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"whoami","arguments":${nested(DEEP)},${STATELESS_META}}}`,
      () => ({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'whoami' })],
    ['a tool call\'s arguments, one level past the limit', () => `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"whoami","arguments":${nested(MAX_JSON_DEPTH - 1)}}}`, inSession],
  ];

  for (const [where, body, headers] of refused) {
    test(`refuses nesting too deep in ${where} with 400 -32600, never a 5xx`, async () => {
      const response = await post(body(), headers());
      assert.equal(response.status, 400, response.body.slice(0, 200));
      assert.equal(response.headers['mcp-session-id'], undefined);
      assert.deepEqual(JSON.parse(response.body), {
        jsonrpc: '2.0', id: null, error: { code: -32600, message: `Invalid Request: the body is nested more than ${MAX_JSON_DEPTH} levels deep` },
      });
      assert.deepEqual(errors, [], 'nothing logged at error');
    });
  }

  test('serves nesting up to the limit', async () => {
    // The message and its params are two levels; the arguments' nesting takes the rest.
    const response = await post(`{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"whoami","arguments":${nested(MAX_JSON_DEPTH - 2)}}}`, inSession());
    assert.equal(response.status, 200, response.body.slice(0, 200));
    assert.equal(jsonRpcMessageOf(response.body).result?.isError, undefined);
  });

  test('does not count brackets inside strings (escaped quotes included)', async () => {
    const text = `\\"${'[{'.repeat(DEEP / 2)}`;
    const response = await post(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'create_note', arguments: { title: 'brackets', body: text.slice(0, 20_000) } } }), inSession());
    assert.equal(response.status, 200, response.body.slice(0, 200));
    const result = jsonRpcMessageOf(response.body).result as { isError?: boolean; structuredContent?: { title: string } };
    assert.equal(result.isError, undefined);
    assert.equal(result.structuredContent?.title, 'brackets');
  });
});
