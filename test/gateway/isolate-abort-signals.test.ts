/**
 * The gateway's fetch towards HTTP upstreams gives each request its own AbortSignal: the session
 * signal the MCP SDK's transport shares across requests keeps no listener per finished request,
 * and aborting it still stops what is in flight. Real HTTP on 127.0.0.1, Node's own fetch.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isolateAbortSignals } from '../../apps/resource-server/src/gateway/isolate-abort-signals.ts';

const fetchIsolated = isolateAbortSignals(fetch);
const abortListeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

describe('isolateAbortSignals', () => {
  let server: Server;
  let base: string;
  /** Responses held open by /hold, and whether each request's socket was closed by the client. */
  const held: Array<{ res: ServerResponse; closed: Promise<void> }> = [];

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
      if (req.url === '/json') return void res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{}}');
      if (req.url === '/accepted') return void res.writeHead(202).end();
      if (req.url === '/no-content') return void res.writeHead(204).end();
      if (req.url === '/sse') {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write('event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n');
        return void setImmediate(() => res.end('event: message\ndata: {"jsonrpc":"2.0","id":2,"result":{}}\n\n'));
      }
      if (req.url === '/hold') {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write('event: message\ndata: {}\n\n');
        held.push({ res, closed });
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const { res } of held) res.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('leaves no listener on the shared signal once each response has been read, whatever its kind', async () => {
    const session = new AbortController();
    const cases = [
      { path: '/json', status: 200, read: (response: Response) => response.json() },
      { path: '/sse', status: 200, read: (response: Response) => response.text() },
      { path: '/accepted', status: 202, read: (response: Response) => response.body?.cancel() },
      { path: '/no-content', status: 204, read: (response: Response) => response.text() },
    ];
    for (let round = 0; round < 50; round += 1) {
      for (const { path, status, read } of cases) {
        const response = await fetchIsolated(`${base}${path}`, { signal: session.signal });
        assert.equal(response.status, status, path);
        await read(response);
      }
    }
    assert.equal(abortListeners(session.signal), 0);
  });

  test('passes the body, status and headers through unchanged', async () => {
    const session = new AbortController();
    const response = await fetchIsolated(`${base}/sse`, { signal: session.signal });
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    assert.equal(await response.text(), 'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\nevent: message\ndata: {"jsonrpc":"2.0","id":2,"result":{}}\n\n');
  });

  test('aborting the shared signal stops a response body still being streamed and closes its connection', async () => {
    const session = new AbortController();
    const response = await fetchIsolated(`${base}/hold`, { signal: session.signal });
    const reader = response.body!.getReader();
    assert.equal((await reader.read()).done, false);
    assert.equal(abortListeners(session.signal), 1, 'linked while the body is in flight');
    session.abort();
    await assert.rejects(reader.read(), { name: 'AbortError' });
    await held.at(-1)!.closed;
    assert.equal(abortListeners(session.signal), 0);
  });

  test('a cancelled body unlinks its request', async () => {
    const session = new AbortController();
    const response = await fetchIsolated(`${base}/hold`, { signal: session.signal });
    await response.body!.cancel();
    assert.equal(abortListeners(session.signal), 0);
    await held.at(-1)!.closed;
  });

  test('refuses a request whose shared signal is already aborted, as fetch does', async () => {
    const session = new AbortController();
    session.abort();
    await assert.rejects(fetchIsolated(`${base}/json`, { signal: session.signal }), { name: 'AbortError' });
  });

  test('a request that fails unlinks its signal', async () => {
    const session = new AbortController();
    const unreachable = await new Promise<string>((resolve) => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(`http://127.0.0.1:${port}/json`));
      });
    });
    await assert.rejects(fetchIsolated(unreachable, { signal: session.signal }), TypeError);
    assert.equal(abortListeners(session.signal), 0);
  });
});
