/**
 * A request without `Mcp-Session-Id` that is not an `initialize` is answered 400 saying the header
 * is missing (MCP 2025-11-25 transports §Session Management: a server that requires a session
 * SHOULD answer such a request 400 Bad Request). The SDK's fresh transport answered it 400 with
 * `Bad Request: Server not initialized`, which told the client nothing of the header it left out.
 * The checks the SDK makes first keep their answers: 406 for an Accept without both types.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mcpRequest } from '../helpers/mcp-http.ts';
import { useIssuerAndServer } from '../helpers/start-resource-server.ts';

const MISSING = { jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: Mcp-Session-Id header is required' }, id: null };

const requests: Array<[what: string, method: string, body?: unknown]> = [
  ['a POST of a request', 'POST', { jsonrpc: '2.0', id: 1, method: 'tools/list' }],
  ['a POST of a notification', 'POST', { jsonrpc: '2.0', method: 'notifications/initialized' }],
  ['a POST of a response', 'POST', { jsonrpc: '2.0', id: 1, result: {} }],
  ['a POST of a batch without an initialize', 'POST', [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { jsonrpc: '2.0', id: 2, method: 'ping' }]],
  ['a GET for the event stream', 'GET'],
  ['a DELETE', 'DELETE'],
];

describe('requests without a session id', () => {
  const running = useIssuerAndServer();

  for (const [what, method, body] of requests) {
    test(`${what} is answered 400: the Mcp-Session-Id header is required`, async () => {
      const response = await mcpRequest(running.server.mcpUrl, { token: await running.issuer.mint(), method, body });
      assert.equal(response.status, 400);
      assert.equal(response.headers.get('mcp-session-id'), null);
      assert.deepEqual(await response.json(), MISSING);
    });
  }

  test('the SDK client that sends a request before initializing is told the header is missing', async () => {
    const transport = new StreamableHTTPClientTransport(new URL(running.server.mcpUrl), {
      requestInit: { headers: { Authorization: `Bearer ${await running.issuer.mint()}` } },
    });
    await transport.start();
    try {
      await assert.rejects(transport.send({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
        (err: unknown) => err instanceof StreamableHTTPError && err.code === 400 && err.message.includes('Mcp-Session-Id header is required'));
    } finally {
      await transport.close();
    }
  });

  test('a POST whose Accept lacks text/event-stream keeps the SDK\'s 406', async () => {
    const response = await mcpRequest(running.server.mcpUrl, { token: await running.issuer.mint(), headers: { Accept: 'application/json' }, body: { jsonrpc: '2.0', id: 1, method: 'tools/list' } });
    assert.equal(response.status, 406);
  });
});
