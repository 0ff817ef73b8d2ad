/**
 * What a stdio server process writes reaches the log in bounded pieces: a stderr line is logged
 * cut at 2000 characters as soon as it passes them, and the rest of it is dropped up to its end,
 * so a process that writes without ever ending a line cannot make the gateway hold all of it; and
 * why a process failed to start is cut at 200 characters wherever it is told (a caller's tool
 * error, the admin's /gateway/servers, the log), however much the process said. An answer longer
 * than 16 MiB on its stdout fails only the call it answers: the process, which every caller
 * shares, carries on.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createLogger } from '../../apps/shared/logger.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectAs, errorText, readiness, resultText, waitForServers } from './support/gateway-client.ts';
import { FILESYSTEM, NOISY_STDERR, REFUSING, stdioServer } from './support/upstreams.ts';

describe('a stdio server\'s stderr', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let client: Client;
  const logLines: Array<Record<string, unknown>> = [];
  /** The stderr lines logged for the noisy server, in order. */
  const stderrOf = (name: string) => logLines.filter((line) => line.server === name && typeof line.stderr === 'string').map((line) => line.stderr as string);

  before(async () => {
    issuer = await startTestIssuer();
    const logger = createLogger('resource-server', 'info', { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
    server = await startResourceServer({ issuer: issuer.issuer, logger, config: { servers: [stdioServer('noisy', NOISY_STDERR)] } });
    await waitForServers(server.baseUrl, { noisy: 'ready' });
    client = (await connectAs(server.mcpUrl, await issuer.mint())).client;
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await issuer?.close();
  });

  test('a line that never ends is logged cut at 2000 characters while it is still open, and its rest is dropped', { timeout: 20_000 }, async () => {
    // The server's 1 MiB line has no newline yet: what was kept of it is logged already.
    await waitFor('the open line\'s first 2000 characters in the log', () => stderrOf('noisy').length > 0, 5000);
    assert.deepEqual(stderrOf('noisy'), [`${'x'.repeat(2000)}…`]);

    assert.equal(resultText(await client.callTool({ name: 'noisy__end-line', arguments: {} })), 'ended');
    await waitFor('the line after the long one in the log', () => stderrOf('noisy').includes('after the long line'), 5000);
    assert.deepEqual(stderrOf('noisy'), [`${'x'.repeat(2000)}…`, 'after the long line'], 'the tail of the cut line is dropped, the next line is whole');
  });
});

describe('a shared stdio server\'s long answers', { timeout: 60_000 }, () => {
  let share: string;
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const logLines: Array<Record<string, unknown>> = [];
  /** read_multiple_files of the 1 MiB file `times` times: an answer of a little over 2 × `times` MiB (the text, again as structuredContent). */
  const readBig = (client: Client, times: number) => client.callTool({ name: 'files__read_multiple_files', arguments: { paths: Array.from({ length: times }, () => join(share, 'big.txt')) } });
  const startsOfFiles = () => logLines.filter((line) => line.server === 'files' && line.msg === 'mcp server started');

  before(async () => {
    share = mkdtempSync(join(tmpdir(), 'gatehouse-long-answers-'));
    writeFileSync(join(share, 'big.txt'), 'x'.repeat(1024 * 1024));
    writeFileSync(join(share, 'small.txt'), 'hello\n');
    issuer = await startTestIssuer();
    const logger = createLogger('resource-server', 'info', { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
    server = await startResourceServer({ issuer: issuer.issuer, logger, config: { servers: [stdioServer('files', FILESYSTEM, [share])] } });
    await waitForServers(server.baseUrl, { files: 'ready' });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
    rmSync(share, { recursive: true, force: true });
  });

  test('an answer over 16 MiB fails only its own call, and the next caller\'s call runs on the same process', async () => {
    const mallory = (await connectAs(server.mcpUrl, await issuer.mint({ claims: { sub: randomUUID() } }))).client;
    const alice = (await connectAs(server.mcpUrl, await issuer.mint({ claims: { sub: randomUUID() } }))).client;
    try {
      // 12 MiB: over the MCP SDK's own 10 MiB, which killed the process for everyone, under ours.
      assert.ok(resultText(await readBig(mallory, 6)).length > 6 * 1024 * 1024, 'a 12 MiB answer comes whole');
      assert.equal(errorText(await readBig(mallory, 9)), `The files server refused the call: its answer is longer than ${16 * 1024 * 1024} bytes`);
      assert.match(resultText(await alice.callTool({ name: 'files__read_text_file', arguments: { path: join(share, 'small.txt') } })), /hello/);
      assert.equal((await readiness(server.baseUrl)).body.servers?.files?.state, 'ready');
      assert.equal(startsOfFiles().length, 1, 'the process was never restarted');
      assert.ok(logLines.some((line) => line.server === 'files' && String(line.msg).includes('longer than the limit: that call fails')), 'the dropped answer is logged');
    } finally {
      await mallory.close();
      await alice.close();
    }
  });
});

/**
 * A resource server with one stdio server, REFUSING (started with `args`), that is down for
 * good: the hooks start it for the enclosing describe, and the readers say where the reason for
 * it being down is told.
 */
function withRefusingServer(name: string, args: string[]) {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let client: Client;
  const logLines: Array<Record<string, unknown>> = [];

  before(async () => {
    issuer = await startTestIssuer();
    const logger = createLogger('resource-server', 'info', { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
    server = await startResourceServer({ issuer: issuer.issuer, logger, config: { servers: [stdioServer(name, REFUSING, args)] } });
    await waitForServers(server.baseUrl, { [name]: 'down' });
    client = (await connectAs(server.mcpUrl, await issuer.mint())).client;
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await issuer?.close();
  });

  return {
    toolError: async () => errorText(await client.callTool({ name: `${name}__anything`, arguments: {} })),
    serversPageReason: async () => {
      const response = await fetch(`${server.baseUrl}/gateway/servers`, { headers: { authorization: `Bearer ${await issuer.mint({ claims: { scope: 'mcp:admin' } })}` } });
      const { servers } = await response.json() as { servers: Array<{ name: string; reason?: string }> };
      return String(servers.find((one) => one.name === name)?.reason);
    },
    logReason: async () => String(logLines.find((line) => line.msg === 'mcp server is down' && line.server === name)?.reason),
    stderrLine: async () => {
      const stderr = () => logLines.find((line) => line.server === name && typeof line.stderr === 'string')?.stderr;
      await waitFor('the stderr line in the log', () => stderr() !== undefined, 5000);
      return String(stderr());
    },
  };
}

describe('a stdio server that fails to start with a long message', { timeout: 60_000 }, () => {
  const refusing = withRefusingServer('refusing', []);
  // What the gateway adds before the process's own words (the McpError's prefix included).
  const PREFIX = 'it failed to start: MCP error -32603: refusing to start: the configuration is missing a value;';
  const LONGEST = 'it failed to start: '.length + 200 + '…'.length;

  // [where the reason is told, how to read it there]
  const places: Array<[string, () => Promise<string>]> = [
    ['the caller\'s tool error', async () => {
      const text = await refusing.toolError();
      return /^The refusing server is unavailable: (.*); it is restarted in \d+ s\.$/s.exec(text)?.[1] ?? text;
    }],
    ['the admin\'s /gateway/servers', refusing.serversPageReason],
    ['the log', refusing.logReason],
  ];
  for (const [where, read] of places) {
    test(`${where} gives the reason cut at 200 characters`, { timeout: 10_000 }, async () => {
      const reason = await read();
      assert.ok(reason.startsWith(PREFIX), `the reason says what the process said: ${reason.slice(0, 300)}`);
      assert.ok(reason.length <= LONGEST, `at most ${LONGEST} characters, got ${reason.length}`);
      assert.ok(reason.endsWith('…'), 'and shows it was cut');
    });
  }
});

/** With the u flag a pair reads as one character, so only a lone half matches. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Cuts count UTF-16 code units, and an emoji takes two: a cut between them left a lone surrogate,
 * which JSON carries as an escape strict readers refuse (serde_json), so the caller's client could
 * drop the whole answer. Here every cut falls inside a 🔑: the reason at 200, the stderr line at 2000.
 */
describe('a stdio server that fails to start with a message of emoji', { timeout: 60_000 }, () => {
  const keyed = withRefusingServer('keyed', ['emoji']);
  const places: Array<[string, () => Promise<string>]> = [
    ['the reason in the caller\'s tool error', keyed.toolError],
    ['the reason in the admin\'s /gateway/servers', keyed.serversPageReason],
    ['the reason in the log', keyed.logReason],
    ['the stderr line in the log', keyed.stderrLine],
  ];
  for (const [what, read] of places) {
    test(`${what} is cut between characters, never inside one`, { timeout: 10_000 }, async () => {
      const text = await read();
      assert.match(text, /refusing to start: 🔑/, `it quotes the process: ${text.slice(0, 100)}`);
      assert.match(text, /🔑…/, 'cut after a whole 🔑, and says it was cut');
      assert.doesNotMatch(text, LONE_SURROGATE, 'no lone surrogate is left');
    });
  }
});
