/**
 * The gateway's Streamable HTTP client transport on its own, against a real node:http server that
 * answers what a hostile or unusual upstream might: event streams cut anywhere, priming events,
 * comments and other event types, error statuses that echo credentials, redirects, oversized
 * messages, and one that never answers. (The transport against real MCP servers is in http-upstream.test.ts and
 * requests-between-client-and-server.test.ts.)
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { Pool } from 'undici';
import { waitFor } from '../helpers/wait-for.ts';
import { EventStreamParser, HttpClientTransport, MAX_MESSAGE_BYTES, UpstreamHttpError, UpstreamTimeoutError } from '../../apps/resource-server/src/gateway/http-client-transport.ts';

function parse(chunks: string[]): string[] {
  const delivered: string[] = [];
  const parser = new EventStreamParser((data) => delivered.push(data));
  for (const chunk of chunks) parser.push(chunk);
  return delivered;
}

/** Starts `server` on a free loopback port; its MCP URL. */
async function listenOnLoopback(server: Server): Promise<URL> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
}

/** Stops `server`, ending the streams it still holds open. */
function stopServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('event stream parsing (HTML §9.2.6)', () => {
  const cases: Array<[string, string[], string[]]> = [
    ['one message event', ['event: message\ndata: {"a":1}\n\n'], ['{"a":1}']],
    ['no event name means message', ['data: {"a":1}\n\n'], ['{"a":1}']],
    ['a priming event with empty data dispatches nothing', ['id: 1\ndata: \n\n', 'data: {"b":2}\n\n'], ['{"b":2}']],
    ['several data lines join with a newline', ['data: {"a":\ndata: 1}\n\n'], ['{"a":\n1}']],
    ['CRLF line ends', ['data: {"a":1}\r\n\r\n'], ['{"a":1}']],
    ['CR line ends (a last CR waits for a possible LF)', ['data: {"a":1}\r\r', 'data: {"b":2}\r\r'], ['{"a":1}']],
    ['a CRLF split across chunks', ['data: {"a":1}\r', '\n\r', '\n'], ['{"a":1}']],
    ['an event cut at every character', [...'data: {"a":1}\n\n'], ['{"a":1}']],
    ['comments and id/retry fields are ignored', [': keep-alive\nid: 7\nretry: 1000\ndata: {"a":1}\n\n'], ['{"a":1}']],
    ['events of another type are not JSON-RPC', ['event: ping\ndata: x\n\nevent: message\ndata: {"a":1}\n\n'], ['{"a":1}']],
    ['no space after the colon', ['data:{"a":1}\n\n'], ['{"a":1}']],
    ['an unfinished event is not dispatched', ['data: {"a":1}\n'], []],
  ];
  for (const [name, chunks, expected] of cases) {
    test(name, () => assert.deepEqual(parse(chunks), expected));
  }

  test('an event longer than the limit is refused, not buffered without end', () => {
    const parser = new EventStreamParser(() => assert.fail('nothing is delivered'));
    const line = `data: ${'x'.repeat(1024 * 1024)}\n`;
    assert.throws(() => {
      for (let i = 0; i <= MAX_MESSAGE_BYTES / (1024 * 1024); i += 1) parser.push(line);
    }, /longer than/);
  });

  test('one line longer than the limit, in 1 KiB chunks, is refused at the chunk that passes it', () => {
    const parser = new EventStreamParser(() => assert.fail('nothing is delivered'));
    const piece = 'x'.repeat(1024);
    let pushed = 0;
    const push = (chunk: string) => {
      parser.push(chunk);
      pushed += chunk.length;
    };
    push('data: ');
    while (pushed + piece.length <= MAX_MESSAGE_BYTES) push(piece);
    assert.throws(() => push(piece), /longer than/, `refused at ${pushed + piece.length} characters`);
  });

  test('an event longer than the limit is refused as it arrives, even when its blank line comes in the same chunk', () => {
    const parser = new EventStreamParser(() => assert.fail('nothing is delivered'));
    assert.throws(() => parser.push(`data: ${'x'.repeat(MAX_MESSAGE_BYTES)}\n\n`), /longer than/);
  });

  // Each data line adds its value and the newline that joins it to the next: an empty one adds
  // one. Counted by their values alone, empty lines cost nothing, and one event of them grew the
  // gateway's memory without end (a review: 200 MiB sent, 386 MiB of heap kept).
  // [what, the line, what each adds to the joined data]
  const shortDataLines: Array<[string, string, number]> = [['data', 'data\n', 1], ['data: ', 'data: \r\n', 1], ['data with a one-character value', 'data:x\r', 2]];
  for (const [what, line, cost] of shortDataLines) {
    test(`an event of "${what}" lines is refused once its joined data would pass the limit`, () => {
      let delivered = 0;
      const parser = new EventStreamParser((data) => { delivered = data.length; });
      const perChunk = 64 * 1024;
      const chunk = line.repeat(perChunk);
      let lines = 0;
      assert.throws(() => {
        for (; lines <= MAX_MESSAGE_BYTES; lines += perChunk) parser.push(chunk);
      }, /longer than/);
      assert.ok(lines * cost <= MAX_MESSAGE_BYTES, `refused in the chunk that passed the limit, not after ${lines} lines`);
      assert.equal(delivered, 0, 'nothing delivered');
    });
  }

  test('an event of data lines the limit allows, joined, is delivered whole', () => {
    const delivered: string[] = [];
    const parser = new EventStreamParser((data) => delivered.push(data));
    parser.push(`${'data:x\n'.repeat(1000)}\n`);
    assert.deepEqual(delivered, [Array(1000).fill('x').join('\n')]);
  });

  test('a line the limit allows, cut into many chunks with every kind of line end, arrives whole', () => {
    const payload = JSON.stringify({ a: 'é日本💥'.repeat(20_000) });
    const stream = `data: ${payload.slice(0, 1000)}\r\ndata: ${payload.slice(1000)}\r\revent: message\rdata: {"b":2}\n\n`;
    const chunks: string[] = [];
    for (let i = 0; i < stream.length; i += 997) chunks.push(stream.slice(i, i + 997));
    assert.deepEqual(parse(chunks), [`${payload.slice(0, 1000)}\n${payload.slice(1000)}`, '{"b":2}']);
  });
});

describe('the transport against an unusual upstream', () => {
  let url: URL;
  const seen: Array<{ method: string; headers: IncomingMessage['headers'] }> = [];
  let answer: (req: IncomingMessage, res: ServerResponse) => void = () => {};
  const server = createServer((req, res) => {
    seen.push({ method: req.method!, headers: req.headers });
    req.resume();
    req.once('end', () => answer(req, res));
  });

  before(async () => {
    url = await listenOnLoopback(server);
  });
  after(() => stopServer(server));

  const initialize: JSONRPCMessage = { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} };
  const transportWith = (headers: Record<string, string> = {}, timeoutMs = 30_000) => new HttpClientTransport({ url, headersFor: async () => headers, timeoutMs });

  test('takes the session id from the answer and sends it, with the protocol version, on every later request', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'abc' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} }));
    };
    const transport = transportWith({ 'x-api-key': 'k' });
    const received: JSONRPCMessage[] = [];
    transport.onmessage = (message) => received.push(message);
    await transport.send(initialize);
    assert.deepEqual(received, [{ jsonrpc: '2.0', id: 1, result: {} }]);
    transport.setProtocolVersion('2025-11-25');
    answer = (_req, res) => res.writeHead(202).end();
    await transport.send({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' });
    const last = seen.at(-1)!.headers;
    assert.equal(last['mcp-session-id'], 'abc');
    assert.equal(last['mcp-protocol-version'], '2025-11-25');
    assert.equal(last['x-api-key'], 'k');
    await transport.close();
  });

  const refusals: Array<[string, (req: IncomingMessage, res: ServerResponse) => void, RegExp]> = [
    ['an error status, without quoting a body that echoes the credentials', (req, res) => res.writeHead(401, { 'content-type': 'text/plain' }).end(`bad key ${req.headers['x-api-key']}`), /^it answered HTTP 401$/],
    ['a redirect, not followed', (_req, res) => res.writeHead(307, { location: 'http://127.0.0.1:1/elsewhere' }).end(), /^it answered HTTP 307$/],
    ['neither JSON nor an event stream', (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>'), /content type "text\/html"/],
    // JSON.parse quotes what it could not parse (all of a short body, 10 characters around the
    // fault in a longer one): the credentials, when a server or a proxy in front echoes them.
    ['JSON that does not parse, without quoting a body that echoes the credentials', (req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(String(req.headers['x-api-key'])), /^it answered with a body that is not JSON$/],
    ['JSON broken at the credentials, without quoting them', (req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(`{"error": "invalid key", "key": ${req.headers['x-api-key']}}`), /^it answered with a body that is not JSON$/],
  ];
  for (const [name, respond, message] of refusals) {
    test(`refuses ${name}`, async () => {
      answer = respond;
      const count = seen.length;
      const transport = transportWith({ 'x-api-key': 'secret-key' });
      await assert.rejects(transport.send(initialize), (err: Error) => message.test(err.message) && !err.message.includes('secret-key'));
      assert.equal(seen.length, count + 1, 'one request, nothing followed');
      await transport.close();
    });
  }

  test('an HTTP error is an UpstreamHttpError with its status', async () => {
    answer = (_req, res) => res.writeHead(503).end();
    const transport = transportWith();
    await assert.rejects(transport.send(initialize), (err: unknown) => err instanceof UpstreamHttpError && err.status === 503);
    await transport.close();
  });

  // What the GET for the event stream is answered with, and what the transport makes of it: the
  // message the stream carries, or what onerror is told. Media types are case-insensitive and end
  // at their parameters (RFC 9110 §8.3.1); a 2xx of another status than 200 is told by its status,
  // its content type being the right one. A 200 web page is told by its content type, not as an
  // HTTP error.
  const GET_ANSWERS: Array<[status: number, contentType: string | undefined, outcome: string]> = [
    [200, 'text/event-stream', 'read: notifications/message'],
    [200, 'Text/Event-Stream', 'read: notifications/message'],
    [200, 'TEXT/EVENT-STREAM;charset=utf-8', 'read: notifications/message'],
    [200, 'text/event-stream ; charset=utf-8', 'read: notifications/message'],
    [200, 'text/html', 'Error: it answered its event stream (GET) with the content type "text/html"'],
    [200, 'text/event-streams', 'Error: it answered its event stream (GET) with the content type "text/event-streams"'],
    [200, undefined, 'Error: it answered its event stream (GET) with the content type ""'],
    [201, 'text/event-stream', 'Error: it answered its event stream (GET) with HTTP 201, not 200'],
    [204, 'Text/Event-Stream', 'Error: it answered its event stream (GET) with HTTP 204, not 200'],
    [201, 'text/html', 'Error: it answered its event stream (GET) with the content type "text/html"'],
    [404, 'text/event-stream', 'UpstreamHttpError: it answered HTTP 404'],
  ];
  for (const [status, contentType, outcome] of GET_ANSWERS) {
    test(`a GET for its event stream answered ${status} ${contentType ?? 'without a content type'}: ${outcome}`, async () => {
      answer = (req, res) => {
        if (req.method !== 'GET') return void res.writeHead(202).end();
        res.writeHead(status, contentType === undefined ? {} : { 'content-type': contentType });
        if (status === 204) return void res.end();
        res.end('data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hi"}}\n\n');
      };
      const transport = transportWith();
      const told = new Promise<string>((resolve) => {
        transport.onerror = (err) => resolve(`${err.name}: ${err.message}`);
        transport.onmessage = (message) => resolve(`read: ${'method' in message ? message.method : JSON.stringify(message)}`);
      });
      await transport.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      assert.equal(await told, outcome);
      await transport.close();
    });
  }

  test('many calls in flight on one session raise no listener-leak warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    let pending: Array<() => void> = [];
    answer = (req, res) => {
      pending.push(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} })));
      if (pending.length === 20) {
        for (const release of pending) release();
        pending = [];
      }
    };
    const transport = transportWith();
    try {
      await Promise.all(Array.from({ length: 20 }, () => transport.send(initialize)));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message), []);
    } finally {
      process.off('warning', onWarning);
      await transport.close();
    }
  });

  test('closing stops a stream still being read and says so once', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"jsonrpc":"2.0","method":"notifications/message","params":{}}\n\n');
    };
    const transport = transportWith();
    const received: JSONRPCMessage[] = [];
    let closes = 0;
    transport.onmessage = (message) => received.push(message);
    transport.onclose = () => { closes += 1; };
    await transport.send(initialize);
    await waitFor('the event before the response', () => received.length > 0);
    assert.equal(received.length, 1, 'the event before the response arrived');
    await transport.close();
    await transport.close();
    assert.equal(closes, 1);
  });

  describe('a call answered on an event stream', () => {
    /** Each call's answer, then the stream's end `endAfterMs` later (never, when undefined). */
    let endAfterMs: number | undefined;
    /** Per call, at the server: 'ended' when its stream was ended, 'cut' when it closed first. */
    let outcomes: string[] = [];
    let connections = 0;
    const streaming = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      const { id } = JSON.parse(body) as { id: number };
      res.once('close', () => outcomes.push(res.writableEnded ? 'ended' : 'cut'));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, result: {} })}\n\n`);
      if (endAfterMs !== undefined) setTimeout(() => res.end(), endAfterMs);
    });
    streaming.on('connection', () => { connections += 1; });
    let streamingUrl: URL;

    before(async () => {
      streamingUrl = await listenOnLoopback(streaming);
    });
    after(() => stopServer(streaming));

    /**
     * Sends `calls` calls one after another over one connection at most, each once the last is
     * answered; `graceMs`: how long the transport waits for a stream's end after the answer.
     */
    async function callInTurn(calls: number, graceMs: number): Promise<{ received: JSONRPCMessage[]; errors: Error[]; connections: number }> {
      outcomes = [];
      connections = 0;
      const dispatcher = new Pool(streamingUrl.origin, { connections: 1 });
      const transport = new HttpClientTransport({ url: streamingUrl, headersFor: async () => ({}), timeoutMs: 30_000, dispatcher, answeredStreamGraceMs: graceMs });
      const received: JSONRPCMessage[] = [];
      const errors: Error[] = [];
      transport.onmessage = (message) => received.push(message);
      transport.onerror = (err) => errors.push(err);
      try {
        for (let id = 1; id <= calls; id += 1) {
          await transport.send({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo' } });
          await waitFor(`the answer to call ${id}`, () => received.length === id);
        }
        await waitFor('every call\'s stream to close', () => outcomes.length === calls, 5000);
        // Counted now: closing the pool below may open one more.
        return { received, errors, connections };
      } finally {
        await transport.close();
        await dispatcher.close();
      }
    }

    // SDK servers end a call's stream just after its answer. Cut at the answer, the stream took
    // its connection with it: a new one for every call, and an error built for each.
    test('waits for the stream the server ends after the answer, and keeps the connection', async () => {
      endAfterMs = 50;
      // A grace far longer than the server's 50 ms, however slow the machine.
      const { received, errors, connections: opened } = await callInTurn(3, 60_000);
      assert.deepEqual(received.map((message) => (message as { id: number }).id), [1, 2, 3]);
      assert.deepEqual(outcomes, ['ended', 'ended', 'ended'], 'no stream cut before its end');
      assert.equal(opened, 1, 'one connection for the three calls');
      assert.deepEqual(errors, []);
    });

    test('lets go of a stream the server keeps open after the answer, without an error', async () => {
      endAfterMs = undefined;
      const { received, errors } = await callInTurn(2, 100);
      assert.equal(received.length, 2);
      assert.deepEqual(outcomes, ['cut', 'cut'], 'each stream closed by the gateway');
      assert.deepEqual(errors, [], 'letting go of an answered stream is no error');
    });
  });

  describe('an upstream that never answers', () => {
    const TIMEOUT_MS = 300;
    /** What the upstream never answers: JSON-RPC methods, 'a response', or HTTP methods. */
    let ignored: string[] = [];
    let held: Array<{ what: string; id?: unknown; res: ServerResponse }> = [];
    /** What the upstream got, and each held answer's connection closing, in order. */
    let events: string[] = [];
    const silent = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      const message = req.method === 'POST' ? JSON.parse(body) as { method?: string; id?: unknown } : {};
      const what = req.method === 'POST' ? message.method ?? 'a response' : req.method!;
      events.push(what);
      if (ignored.includes(what)) {
        held.push({ what, id: message.id, res });
        res.once('close', () => events.push(`${what} ${String(message.id)} closed`));
      }
      else if (what === 'initialize') res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's1' }).end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} }));
      else res.writeHead(what === 'GET' ? 405 : 202).end();
    });
    let silentUrl: URL;

    before(async () => {
      silentUrl = await listenOnLoopback(silent);
    });
    after(() => stopServer(silent));

    async function connected(ignoring: string[]): Promise<HttpClientTransport> {
      ignored = ignoring;
      held = [];
      events = [];
      const transport = new HttpClientTransport({ url: silentUrl, headersFor: async () => ({}), timeoutMs: TIMEOUT_MS });
      await transport.send(initialize);
      return transport;
    }

    const unanswered: Array<[string, JSONRPCMessage | 'DELETE', RegExp]> = [
      ['a notification', { jsonrpc: '2.0', method: 'notifications/initialized' }, /^it did not answer notifications\/initialized within 0\.3 s$/],
      ['our response to its request', { jsonrpc: '2.0', id: 7, result: {} }, /^it did not answer our response to its request within 0\.3 s$/],
      ['the DELETE that ends the session', 'DELETE', /^it did not answer the DELETE of its session within 0\.3 s$/],
    ];
    for (const [name, message, expected] of unanswered) {
      test(`gives up ${name} after timeoutMs, saying what went unanswered`, { timeout: 10_000 }, async () => {
        const transport = await connected(['notifications/initialized', 'a response', 'DELETE']);
        try {
          const sent = message === 'DELETE' ? transport.terminateSession() : transport.send(message);
          await assert.rejects(sent, (err: unknown) => err instanceof UpstreamTimeoutError && expected.test(err.message), `${name} is given up with a timeout error`);
          assert.equal(held.length, 1, 'the upstream got it and held its answer');
        } finally {
          await transport.close();
        }
      });
    }

    const call = (id: number): JSONRPCMessage => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'slow' } });
    const cancel = (params?: Record<string, unknown>): JSONRPCMessage => ({ jsonrpc: '2.0', method: 'notifications/cancelled', ...(params ? { params } : {}) } as JSONRPCMessage);

    test('ends a request\'s POST once its cancellation is sent, after the server got the cancellation', { timeout: 10_000 }, async () => {
      const transport = await connected(['tools/call']);
      try {
        // Its answer's head is held too: the send is settled by the cancellation.
        const sent = transport.send(call(2)).catch((err: unknown) => err);
        await waitFor('the call to be held', () => held.length === 1);
        await transport.send(cancel({ requestId: 2, reason: 'the caller gave up' }));
        await waitFor('the call\'s POST to close', () => events.includes('tools/call 2 closed'), 5000);
        assert.deepEqual(events.slice(-2), ['notifications/cancelled', 'tools/call 2 closed']);
        assert.ok(await sent instanceof Error, 'the send of the call fails');
      } finally {
        await transport.close();
      }
    });

    // [what is cancelled, the cancellation] — none of them is the call in flight (id 2)
    const otherCancellations: Array<[string, JSONRPCMessage]> = [
      ['another id', cancel({ requestId: 3 })],
      ['the same id as a string', cancel({ requestId: '2' })],
      ['no request id', cancel({ reason: 'none' })],
      ['an id that is an object', cancel({ requestId: { id: 2 } })],
      ['no params at all', cancel()],
    ];
    for (const [name, cancellation] of otherCancellations) {
      test(`a cancellation of ${name} leaves the call in flight alone`, { timeout: 10_000 }, async () => {
        const transport = await connected(['tools/call']);
        const received: JSONRPCMessage[] = [];
        transport.onmessage = (message) => received.push(message);
        try {
          const sent = transport.send(call(2));
          await waitFor('the call to be held', () => held.length === 1);
          await transport.send(cancellation);
          held[0]!.res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: 2, result: { content: [] } }));
          await sent;
          assert.deepEqual(received, [{ jsonrpc: '2.0', id: 2, result: { content: [] } }], 'the call\'s answer arrived');
        } finally {
          await transport.close();
        }
      });
    }

    test('does not cut a request\'s POST at timeoutMs: its answer may take as long as the call', { timeout: 10_000 }, async () => {
      const transport = await connected(['tools/call', 'notifications/initialized']);
      const received: JSONRPCMessage[] = [];
      transport.onmessage = (message) => received.push(message);
      try {
        const call = transport.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'slow' } });
        // A notification sent after the call is given up first: by then the call has outlived timeoutMs.
        await assert.rejects(transport.send({ jsonrpc: '2.0', method: 'notifications/initialized' }), UpstreamTimeoutError, 'the notification is given up');
        const slow = held.find((one) => one.what === 'tools/call');
        assert.ok(slow, 'the call reached the upstream and is still open');
        slow.res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: 2, result: { content: [] } }));
        await call;
        assert.deepEqual(received.at(-1), { jsonrpc: '2.0', id: 2, result: { content: [] } }, 'the call\'s late answer arrived');
      } finally {
        await transport.close();
      }
    });
  });
});
