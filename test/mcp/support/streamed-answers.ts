/**
 * Streamed answers through coalesceWrites (apps/resource-server/src/http/coalesce-writes.ts), the
 * way the MCP endpoint writes them, read back by a plain HTTP client: run as a script by
 * test/mcp/streamed-answers-on-each-node.test.ts under each Node it checks, and prints one JSON
 * line, `{ node, answers: { [scenario]: body } }`. It loads no native module, so any Node runs it
 * with the project's node_modules.
 *
 * Each scenario is an event-stream answer to one request: the head sent at once (as the SDK's
 * transport does when a call starts), then the events and the end in the turns the scenario says.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { coalesceWrites } from '../../../apps/resource-server/src/http/coalesce-writes.ts';
import { rawRequest } from '../../helpers/raw-http.ts';

export const event = (n: number) => `event: message\ndata: {"n":${n}}\n\n`;

const nextTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 5));

interface Scenario {
  /** The body a client must read: everything written, in order. */
  body: string;
  /** What the answer writes after its head. */
  write(res: ServerResponse): Promise<void>;
}

export const SCENARIOS: Record<string, Scenario> = {
  'one event and the end, a turn after the head': {
    body: event(1),
    async write(res) {
      await nextTurn();
      res.write(event(1));
      res.end();
    },
  },
  'the last event given to end, a turn after the head': {
    body: event(1),
    async write(res) {
      await nextTurn();
      res.end(event(1));
    },
  },
  'events in turns of their own, then the end in another': {
    body: event(1) + event(2),
    async write(res) {
      await nextTurn();
      res.write(event(1));
      await nextTurn();
      res.write(event(2));
      await nextTurn();
      res.end();
    },
  },
  'an event in the head\'s turn, the end later': {
    body: event(1),
    async write(res) {
      res.write(event(1));
      await nextTurn();
      res.end();
    },
  },
  'two events and the end in one turn after the head': {
    body: event(1) + event(2),
    async write(res) {
      await nextTurn();
      res.write(event(1));
      res.write(event(2));
      res.end();
    },
  },
};

async function main(): Promise<void> {
  const server = createServer((req, res) => {
    const { write } = SCENARIOS[decodeURIComponent(req.url!.slice(1))]!;
    coalesceWrites(res);
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.flushHeaders();
    void write(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const answers: Record<string, string> = {};
  try {
    // Each on a connection of its own: an answer that ended early leaves the rest on the wire.
    for (const name of Object.keys(SCENARIOS)) answers[name] = (await rawRequest(`http://127.0.0.1:${port}`, { path: `/${encodeURIComponent(name)}` })).body;
  } finally {
    server.close();
  }
  process.stdout.write(`${JSON.stringify({ node: process.version, answers })}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
