/**
 * The gateway's stdio client transport on its own, against a real process that writes raw JSON-RPC
 * lines: a message longer than the bound answers only its own request with an error (its id found
 * first or last in the line, as a number or a string), a long message from the server that is no
 * response is dropped with a warning, and the process carries on. (The transport behind the
 * gateway, with a real MCP server, is in stdio-process-output-is-bounded.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { createLogger } from '../../apps/shared/logger.ts';
import { StdioClientTransport } from '../../apps/resource-server/src/gateway/stdio-client-transport.ts';
import { waitFor } from '../helpers/wait-for.ts';

const MAX = 1000;

/** Answers each request by its method: `<how>:<size>` writes that shape with `size` bytes of text. */
const SERVER = String.raw`
const readline = require('node:readline');
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, method } = JSON.parse(line);
  const [how, size] = method.split(':');
  const text = 'x'.repeat(Number(size));
  const write = (value) => process.stdout.write(value + '\n');
  if (how === 'id-first') write('{"jsonrpc":"2.0","id":' + JSON.stringify(id) + ',"result":{"text":"' + text + '"}}');
  if (how === 'id-last') write(JSON.stringify({ result: { text, id: 99 }, jsonrpc: '2.0', id }));
  if (how === 'request') write(JSON.stringify({ method: 'sampling/createMessage', params: { text }, jsonrpc: '2.0', id }));
  if (how === 'pid') write(JSON.stringify({ jsonrpc: '2.0', id, result: { pid: process.pid } }));
});
`;

describe('stdio client transport: messages longer than the bound', () => {
  let transport: StdioClientTransport;
  const received: JSONRPCMessage[] = [];
  const warnings: string[] = [];
  let closed = false;

  before(async () => {
    const logger = createLogger('resource-server', 'info', { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
    transport = new StdioClientTransport({ command: process.execPath, args: ['-e', SERVER], env: {}, server: 'raw', logger, maxMessageBytes: MAX });
    transport.onmessage = (message) => void received.push(message);
    transport.onclose = () => void (closed = true);
    await transport.start();
  });
  after(async () => {
    await transport?.close();
  });

  /** What the process answers `method` (sent with `id`): the first message after those before. */
  async function answer(id: string | number, method: string): Promise<JSONRPCMessage> {
    const seen = received.length;
    await transport.send({ jsonrpc: '2.0', id, method });
    await waitFor(`an answer to ${method}`, () => received.length > seen, 5000);
    return received[seen]!;
  }

  const tooLong = { code: -32603, message: `its answer is longer than ${MAX} bytes` };
  const cases: Array<[string, string | number, string]> = [
    ['an id before the result', 1, `id-first:${MAX}`],
    ['an id after the result (the MCP SDK\'s order), with an "id" inside the result', 2, `id-last:${MAX}`],
    ['a string id', 'call-3', `id-first:${MAX}`],
    ['a string id with escapes, last', 'a"}\\b', `id-last:${MAX}`],
  ];
  for (const [name, id, method] of cases) {
    test(`a too long answer fails only its request: ${name}`, async () => {
      assert.deepEqual(await answer(id, method), { jsonrpc: '2.0', id, error: tooLong });
    });
  }

  test('an answer just under the bound is delivered whole', async () => {
    const around = '{"jsonrpc":"2.0","id":5,"result":{"text":""}}'.length;
    const message = await answer(5, `id-first:${MAX - around}`);
    assert.equal((message as unknown as { result: { text: string } }).result.text.length, MAX - around);
    assert.deepEqual(await answer(6, `id-first:${MAX - around + 1}`), { jsonrpc: '2.0', id: 6, error: tooLong }, 'one byte more is too long');
  });

  test('a long request from the server is dropped with a warning, not taken for an answer', async () => {
    const { pid } = (await answer(7, 'pid:0') as unknown as { result: { pid: number } }).result;
    const seen = received.length;
    await transport.send({ jsonrpc: '2.0', id: 8, method: `request:${MAX}` });
    await waitFor('the warning', () => warnings.some((msg) => msg.includes('no answer to a call: it is dropped')), 5000);
    assert.equal(received.length, seen, 'nothing was delivered for it');
    assert.deepEqual(await answer(9, 'pid:0'), { jsonrpc: '2.0', id: 9, result: { pid } }, 'the same process answers');
    assert.equal(closed, false);
    assert.equal(transport.pid, pid);
  });
});
