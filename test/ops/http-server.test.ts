/**
 * The shared HTTP server's shutdown, with handlers that misbehave on purpose: a request that
 * never finishes, and an event stream (which never finishes by design).
 *
 * No sleeps: each handler says when a request reached it and answers only when the test lets it,
 * after the shutdown has begun (new connections refused). What is asserted is the order of
 * events, not how long anything took; the two upper bounds left (2 s and 1 s against a 5 s
 * timeout) are one-sided and far from what a loaded machine needs.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, test } from 'node:test';
import { createHttpServer } from '../../apps/shared/http-server.ts';
import { isRefused, waitUntilRefused } from './support/processes.ts';

/** A promise and the function that resolves it. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => { resolve = done; });
  return { promise, resolve };
}

/** A GET on its own connection; resolves with the status and body, or the error that ended it. */
function get(url: string): { response: Promise<{ status: number; body: string } | Error>; headers: Promise<void> } {
  let headersArrived!: () => void;
  const headers = new Promise<void>((resolve) => { headersArrived = resolve; });
  const response = new Promise<{ status: number; body: string } | Error>((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      headersArrived();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.once('end', () => resolve({ status: res.statusCode!, body }));
      res.once('error', resolve);
    });
    req.once('error', resolve);
    req.end();
  });
  return { response, headers };
}

describe('graceful shutdown of the HTTP server', () => {
  test('waits for a slow request, not for an event stream; closes the stream after the hook runs', async () => {
    const events: string[] = [];
    const slowArrived = signal();
    const streamClosed = signal();
    let answerSlow!: () => void;
    const http = createHttpServer((req, res) => {
      if (req.url === '/slow') {
        answerSlow = () => {
          events.push('slow answered');
          res.end('slow done');
        };
        slowArrived.resolve();
      } else if (req.url === '/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: hello\n\n');
        res.once('close', () => {
          events.push('stream closed');
          streamClosed.resolve();
        });
      }
    });
    const base = await http.listen(0, '127.0.0.1');
    const port = Number(new URL(base).port);
    const stream = get(`${base}/events`);
    await stream.headers;
    const slow = get(`${base}/slow`);
    await slowArrived.promise;

    const stopped = http.shutdown(5000, async () => {
      events.push('hook');
    });
    await waitUntilRefused(port);
    answerSlow();

    // Waiting for the event stream would hold the shutdown to its 5 s timeout and report false.
    assert.equal(await stopped, true);
    assert.deepEqual(await slow.response, { status: 200, body: 'slow done' });
    await stream.response;
    await streamClosed.promise;
    assert.deepEqual(events, ['slow answered', 'hook', 'stream closed'], 'the slow request is waited for; the event stream is closed after the hook (where MCP sessions end)');
    assert.ok(await isRefused(port));
  });

  test('waits for a POST answered as an event stream (an MCP tool call in flight)', async () => {
    const arrived = signal();
    const answerNow = signal();
    const http = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', connection: 'keep-alive' });
      arrived.resolve();
      void answerNow.promise.then(() => res.end('event: message\ndata: {"result":{}}\n\n'));
    });
    const base = await http.listen(0, '127.0.0.1');
    const port = Number(new URL(base).port);
    const answer = new Promise<{ body: string; connection: string | undefined }>((resolve, reject) => {
      const req = request(`${base}/mcp`, { method: 'POST', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => { body += chunk; });
        res.once('end', () => resolve({ body, connection: res.headers.connection }));
      });
      req.once('error', reject);
      req.end();
    });
    await arrived.promise;
    const stopped = http.shutdown(5000);
    await waitUntilRefused(port);
    answerNow.resolve();
    assert.equal(await stopped, true, 'nothing was cut off');
    const { body } = await answer;
    assert.match(body, /data: \{"result":\{\}\}/, 'the whole answer arrived');
  });

  test('a response begun while stopping says Connection: close even when the app passes keep-alive to writeHead', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const arrived = signal();
    const http = createHttpServer((_req, res) => {
      arrived.resolve();
      void gate.then(() => {
        res.writeHead(200, { 'content-type': 'text/event-stream', Connection: 'keep-alive' });
        res.end('data: {}\n\n');
      });
    });
    const base = await http.listen(0, '127.0.0.1');
    const answer = new Promise<string | undefined>((resolve, reject) => {
      const req = request(`${base}/mcp`, { method: 'POST', agent: false }, (res) => {
        res.resume();
        res.once('end', () => resolve(res.headers.connection));
      });
      req.once('error', reject);
      req.end();
    });
    await arrived.promise;
    const stopped = http.shutdown(5000);
    release();
    assert.equal(await answer, 'close');
    assert.equal(await stopped, true);
  });

  test('cuts off a request still running at the timeout and reports it', async () => {
    const arrived = signal();
    const http = createHttpServer(() => {
      arrived.resolve(); // and never answers
    });
    const base = await http.listen(0, '127.0.0.1');
    const stuck = get(`${base}/stuck`);
    await arrived.promise;
    const started = performance.now();
    const drained = await http.shutdown(200);
    assert.equal(drained, false);
    assert.ok(performance.now() - started < 2000, 'bounded by the timeout');
    assert.ok(await stuck.response instanceof Error, 'the stuck request was cut off');
  });

  test('closes idle keep-alive connections at once', async () => {
    const http = createHttpServer((_req, res) => res.end('ok'));
    const base = await http.listen(0, '127.0.0.1');
    // fetch keeps its connection open for reuse.
    assert.equal(await (await fetch(base)).text(), 'ok');
    const started = performance.now();
    assert.equal(await http.shutdown(5000), true);
    assert.ok(performance.now() - started < 1000, 'an idle connection does not hold the shutdown');
  });
});
