/**
 * A request in an MCP session that reuses the id of a request still in progress in that session
 * (JSON-RPC 2.0 §4: an id identifies one request) is refused with 400 -32600 Invalid Request, and
 * the request in progress still gets its answer. The SDK transport keeps one stream per id, so the
 * second request took over the first one's stream: the first request's answer went nowhere and
 * its HTTP request was never answered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { INITIALIZE } from '../helpers/mcp-http.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { waitForServers } from '../gateway/support/gateway-client.ts';
import { EVERYTHING, stdioServer } from '../gateway/support/upstreams.ts';

/** Reads SSE `data:` messages from a response, handing each to `onMessage`, until it returns true. */
async function readEvents(response: Response, onMessage: (message: Record<string, unknown>) => Promise<boolean>): Promise<void> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error('the stream ended without the answer');
    buffered += value;
    let end: number;
    while ((end = buffered.indexOf('\n\n')) !== -1) {
      const data = /^data: (.*)$/m.exec(buffered.slice(0, end));
      buffered = buffered.slice(end + 2);
      if (data && await onMessage(JSON.parse(data[1]!) as Record<string, unknown>)) {
        await reader.cancel();
        return;
      }
    }
  }
}

describe('a request that reuses the id of one in progress', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let headers: Record<string, string>;

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer, config: { servers: [stdioServer('everything', EVERYTHING, ['stdio'])] } });
    await waitForServers(server.baseUrl, { everything: 'ready' });
    const token = await issuer.mint();
    const opened = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify(INITIALIZE),
    });
    await opened.text();
    headers = {
      Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
      'Mcp-Session-Id': opened.headers.get('mcp-session-id')!, 'MCP-Protocol-Version': '2025-11-25',
    };
    const initialized = await fetch(server.mcpUrl, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    assert.equal(initialized.status, 202);
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  const duplicates: Array<[what: string, body: (id: number) => unknown]> = [
    ['a lone request', (id) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: 'second' } } })],
    ['a request in a batch', (id) => [{ jsonrpc: '2.0', id, method: 'tools/list' }]],
  ];
  for (const [index, [what, body]] of duplicates.entries()) {
    test(`${what} with the id of a running tool call: 400 -32600, and the running call still answered`, async () => {
      const id = 50 + index;
      // Three one-second steps, each reported as progress: the first report shows the call is running.
      const running = await fetch(server.mcpUrl, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          jsonrpc: '2.0', id, method: 'tools/call',
          params: { name: 'everything__trigger-long-running-operation', arguments: { duration: 3, steps: 3 }, _meta: { progressToken: `p${id}` } },
        }),
        signal: AbortSignal.timeout(20_000),
      });
      assert.equal(running.status, 200);
      let duplicate: { status: number; text: string } | undefined;
      let answer: Record<string, unknown> | undefined;
      await readEvents(running, async (message) => {
        if (message.method === 'notifications/progress' && !duplicate) {
          const response = await fetch(server.mcpUrl, { method: 'POST', headers, body: JSON.stringify(body(id)), signal: AbortSignal.timeout(20_000) });
          duplicate = { status: response.status, text: await response.text() };
        }
        if (message.id !== id) return false;
        answer = message;
        return true;
      });
      assert.ok(duplicate, 'the call reported progress');
      assert.equal(duplicate.status, 400, duplicate.text);
      assert.deepEqual(JSON.parse(duplicate.text), { jsonrpc: '2.0', error: { code: -32600, message: `Invalid Request: request ${id} is still in progress in this session` }, id: null });
      assert.match(JSON.stringify(answer), /Long running operation completed/);
    });
  }
});
