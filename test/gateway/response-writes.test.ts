/**
 * How an answer leaves the MCP endpoint (apps/resource-server/src/http/coalesce-writes.ts): what a
 * turn of the event loop writes leaves at the end of that turn, so for a call relayed to a server
 * behind the gateway the head of the answer's event stream no longer holds up the request to the
 * upstream, which undici sends at the end of the same turn. The writes are recorded where sockets
 * hand them to the system (the Writable's `_write` / `_writev`), in the order they leave.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { INITIALIZE, mcpRequest } from '../helpers/mcp-http.ts';
import { httpServer } from './support/upstreams.ts';
import { startEverythingHttp, type RunningHttpUpstream } from './support/start-everything-http.ts';

/** Whether `bytes` hold a whole HTTP/1.1 answer (its body sized by Content-Length or chunked). */
function isComplete(bytes: Buffer): boolean {
  const headEnd = bytes.indexOf('\r\n\r\n');
  if (headEnd < 0) return false;
  const length = /\r\ncontent-length: *(\d+)/i.exec(bytes.subarray(0, headEnd).toString());
  return length ? bytes.length >= headEnd + 4 + Number(length[1]) : bytes.includes('\r\n0\r\n\r\n', headEnd);
}

/** Sends one HTTP/1.1 request on `socket` and collects the answer's `data` events until it is whole. */
function exchange(socket: Socket, request: string): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const received: Buffer[] = [];
    const onData = (chunk: Buffer) => {
      received.push(chunk);
      if (isComplete(Buffer.concat(received))) {
        socket.off('data', onData);
        resolve(received);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(request);
  });
}

describe('answers of the MCP endpoint on the wire', () => {
  const running = {} as { issuer: TestIssuer; server: RunningResourceServer; upstream: RunningHttpUpstream };
  before(async () => {
    running.issuer = await startTestIssuer();
    running.upstream = await startEverythingHttp();
    running.server = await startResourceServer({ issuer: running.issuer.issuer, config: { servers: [httpServer('everything', running.upstream.url)] } });
  });
  after(async () => {
    await running.server?.close();
    await running.upstream?.close();
    await running.issuer?.close();
  });

  test('the head of the answer to a relayed call does not hold up the request to the upstream', async () => {
    const token = await running.issuer.mint({ claims: { sub: randomUUID(), preferred_username: 'alice' } });
    const opened = await mcpRequest(running.server.mcpUrl, { token, body: INITIALIZE });
    assert.equal(opened.status, 200);
    await opened.text();
    const sessionId = opened.headers.get('mcp-session-id')!;
    const initialized = await mcpRequest(running.server.mcpUrl, { token, headers: { 'mcp-session-id': sessionId }, body: { jsonrpc: '2.0', method: 'notifications/initialized' } });
    assert.equal(initialized.status, 202);

    const url = new URL(running.server.mcpUrl);
    // Every socket write of this process, in order: the gateway's answers to the caller and its
    // requests to the upstream (server-everything over Streamable HTTP) alike.
    const writes: string[] = [];
    type WriteMethod = (this: Socket, ...args: unknown[]) => unknown;
    const proto = Socket.prototype as unknown as { _write: WriteMethod; _writev: WriteMethod };
    const { _write, _writev } = proto;
    proto._write = function recordedWrite(this: Socket, ...args: unknown[]) {
      const [chunk] = args as [Buffer | string];
      writes.push(String(chunk));
      return _write.apply(this, args);
    };
    proto._writev = function recordedWritev(this: Socket, ...args: unknown[]) {
      const [chunks] = args as [Array<{ chunk: Buffer | string }>];
      writes.push(chunks.map(({ chunk }) => String(chunk)).join(''));
      return _writev.apply(this, args);
    };
    after(() => Object.assign(proto, { _write, _writev }));
    const socket = connect(Number(url.port), url.hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    try {
      for (const id of [2, 3, 4, 5]) {
        writes.length = 0;
        const body = JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: `call ${id}` } } });
        const chunks = await exchange(socket, [
          `POST ${url.pathname} HTTP/1.1`, `Host: ${url.host}`, `Authorization: Bearer ${token}`,
          'Accept: application/json, text/event-stream', 'Content-Type: application/json',
          `Mcp-Session-Id: ${sessionId}`, 'MCP-Protocol-Version: 2025-11-25', `Content-Length: ${Buffer.byteLength(body)}`, '', body,
        ].join('\r\n'));
        const answer = Buffer.concat(chunks).toString();
        assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
        assert.match(answer, /content-type: text\/event-stream/i);
        assert.match(answer, new RegExp(`"id":${id}`));
        assert.match(answer, new RegExp(`Echo: call ${id}`), 'the event carries the upstream\'s answer');
        if (id === 2) continue; // the first call also opens the gateway's session at the upstream
        // The request to the upstream leaves before the head of the answer: the head, written when
        // the transport starts the stream, waits for the end of that turn instead of delaying it.
        // Other writes of this process (the test issuer answering the revocation feed) are left out.
        const ownWrites = writes.filter((written) => written.includes('text/event-stream') || written.includes(`call ${id}`));
        // (the caller's own request names the gateway's session; the gateway's names the upstream's)
        const toUpstream = ownWrites.findIndex((written) => written.startsWith('POST ') && written.includes(`call ${id}`) && !written.includes(sessionId));
        const head = ownWrites.findIndex((written) => written.startsWith('HTTP/1.1 200 OK') && written.includes('text/event-stream'));
        assert.ok(toUpstream >= 0 && head >= 0, `call ${id}: writes seen: ${JSON.stringify(ownWrites.map((w) => w.slice(0, 60)))}`);
        assert.ok(toUpstream < head, `call ${id}: the head of the answer was written before the request to the upstream: ${JSON.stringify(ownWrites.map((w) => w.slice(0, 60)))}`);
      }
    } finally {
      socket.destroy();
    }
  });
});
