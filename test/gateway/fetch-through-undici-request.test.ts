/**
 * The gateway's fetch towards HTTP upstreams (undici's request API under a standard Response)
 * gives the MCP SDK what Node's own fetch with `redirect: 'error'` gives, case by case: the same
 * answers, the same refusals and failures. Each case runs both against one real server on 127.0.0.1.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetchThroughUndiciRequest } from '../../apps/resource-server/src/gateway/fetch-through-undici-request.ts';
import { freePort } from '../helpers/net.ts';

type Outcome =
  | { answer: { status: number; statusText: string; contentType: string | null; link: string | null; body: string } }
  | { error: { name: string; message: string; cause?: string } };

/** What a caller can observe of one fetch: the answer read to its end, or the error. */
async function outcome(send: typeof fetch, url: string, init: RequestInit = {}): Promise<Outcome> {
  try {
    const response = await send(url, { redirect: 'error', ...init });
    const body = await response.text();
    return { answer: { status: response.status, statusText: response.statusText, contentType: response.headers.get('content-type'), link: response.headers.get('link'), body } };
  } catch (err) {
    const { name, message, cause } = err as Error & { cause?: Error & { code?: string } };
    return { error: { name, message, ...(cause ? { cause: cause.code ?? cause.message } : {}) } };
  }
}

describe('fetchThroughUndiciRequest', () => {
  let server: Server;
  let base: string;
  const received: Array<{ method?: string; headers: IncomingMessage['headers']; body: string }> = [];

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => void (body += chunk));
      req.on('end', () => {
        received.push({ method: req.method, headers: req.headers, body });
        const path = req.url ?? '/';
        const redirect = /^\/redirect\/(\d{3})$/.exec(path);
        if (redirect) return void res.writeHead(Number(redirect[1]), { Location: 'http://127.0.0.2:1/elsewhere' }).end();
        switch (path) {
          case '/json': return void res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{}}');
          case '/sse':
            res.writeHead(200, { 'Content-Type': 'text/event-stream', Link: ['<a>; rel="x"', '<b>; rel="y"'] });
            res.write('event: message\ndata: {"id":1}\n\n');
            return void setImmediate(() => res.end('event: message\ndata: {"id":2}\n\n'));
          case '/accepted': return void res.writeHead(202).end();
          case '/no-content': return void res.writeHead(204).end();
          case '/not-modified': return void res.writeHead(304).end();
          case '/missing': return void res.writeHead(404, 'Nope', { 'Content-Type': 'text/plain' }).end('no such session');
          case '/hang-up': return void req.socket.destroy();
          case '/hold':
            res.writeHead(200, { 'Content-Type': 'text/event-stream' });
            return void res.write('event: message\ndata: {}\n\n');
          default: return void res.writeHead(500).end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const cases: Array<{ name: string; path?: string; init?: RequestInit }> = [
    { name: 'a JSON answer', path: '/json', init: { method: 'POST', body: '{"jsonrpc":"2.0","id":1,"method":"ping"}', headers: { 'content-type': 'application/json' } } },
    { name: 'an SSE answer in two chunks, with a repeated header', path: '/sse', init: { method: 'POST', body: '{}' } },
    { name: '202 Accepted without a body', path: '/accepted', init: { method: 'POST', body: '{}' } },
    { name: '204 No Content', path: '/no-content', init: { method: 'DELETE' } },
    { name: '304 Not Modified', path: '/not-modified' },
    { name: 'an error status with its own reason phrase', path: '/missing', init: { method: 'GET' } },
    { name: 'a HEAD request', path: '/json', init: { method: 'HEAD' } },
    ...[301, 302, 303, 307, 308].map((status) => ({ name: `a ${status} redirect (refused)`, path: `/redirect/${status}`, init: { method: 'POST', body: '{}' } })),
    { name: 'a server that hangs up before answering', path: '/hang-up', init: { method: 'POST', body: '{}' } },
  ];
  for (const { name, path, init } of cases) {
    test(`answers as fetch does: ${name}`, async () => {
      assert.deepEqual(await outcome(fetchThroughUndiciRequest as typeof fetch, `${base}${path}`, init), await outcome(fetch, `${base}${path}`, init));
    });
  }

  test('fails as fetch does when nothing listens on the port', async () => {
    const url = `http://127.0.0.1:${await freePort()}/mcp`;
    const ours = await outcome(fetchThroughUndiciRequest as typeof fetch, url, { method: 'POST', body: '{}' });
    assert.deepEqual(ours, await outcome(fetch, url, { method: 'POST', body: '{}' }));
    assert.deepEqual(ours, { error: { name: 'TypeError', message: 'fetch failed', cause: 'ECONNREFUSED' } });
  });

  test('sends the method, the headers and the body it is given, and nothing of another request', async () => {
    received.length = 0;
    await fetchThroughUndiciRequest(`${base}/json`, { method: 'POST', redirect: 'error', headers: new Headers({ 'Content-Type': 'application/json', 'X-Api-Key': 'upstream-key', 'Mcp-Session-Id': 'abc' }), body: '{"a":1}' });
    await fetchThroughUndiciRequest(`${base}/json`, { method: 'POST', redirect: 'error', body: 'plain' });
    const [first, second] = received;
    assert.equal(first!.method, 'POST');
    assert.equal(first!.body, '{"a":1}');
    assert.equal(first!.headers['content-type'], 'application/json');
    assert.equal(first!.headers['x-api-key'], 'upstream-key');
    assert.equal(first!.headers['mcp-session-id'], 'abc');
    assert.equal(second!.headers['x-api-key'], undefined);
    assert.equal(second!.headers.authorization, undefined);
    assert.equal(second!.headers['content-type'], 'text/plain;charset=UTF-8', 'a string body without a type is sent as fetch sends it');
  });

  test('adds the Accept and User-Agent fetch adds when they are absent, and keeps them when given', async () => {
    received.length = 0;
    await fetch(`${base}/json`, { redirect: 'error' }).then((response) => response.text());
    await fetchThroughUndiciRequest(`${base}/json`, { redirect: 'error' }).then((response) => response.text());
    await fetchThroughUndiciRequest(`${base}/json`, { redirect: 'error', headers: { Accept: 'application/json, text/event-stream', 'User-Agent': 'probe' } }).then((response) => response.text());
    const [byFetch, ours, given] = received;
    assert.equal(ours!.headers.accept, byFetch!.headers.accept);
    assert.equal(ours!.headers['user-agent'], byFetch!.headers['user-agent']);
    assert.equal(given!.headers.accept, 'application/json, text/event-stream');
    assert.equal(given!.headers['user-agent'], 'probe');
  });

  test('refuses a request whose signal is already aborted, with its reason', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(fetchThroughUndiciRequest(`${base}/json`, { redirect: 'error', signal: controller.signal }), { name: 'AbortError' });
  });

  test('aborting the signal stops a body still being streamed, as fetch does', async () => {
    for (const send of [fetch, fetchThroughUndiciRequest]) {
      const controller = new AbortController();
      const response = await send(`${base}/hold`, { method: 'POST', body: '{}', redirect: 'error', signal: controller.signal });
      const reader = response.body!.getReader();
      assert.equal((await reader.read()).done, false);
      controller.abort();
      await assert.rejects(reader.read(), { name: 'AbortError' }, send.name);
    }
  });
});
