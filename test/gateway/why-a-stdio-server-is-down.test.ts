/**
 * Why a stdio server is down, as the admin's MCP servers page reads it (`GET /gateway/servers`)
 * and as the log says it: a review found "spawn node ENOENT" for a missing working directory
 * (blaming `node`) and "MCP error -32000: Connection closed" for a server that wrote why it quit
 * to its stderr, each with a second warn line meant for a running connection. Real processes:
 * the reference filesystem server, this node binary (`-e` scripts), a file that is not
 * executable. What a process wrote to its stderr is for the admin (and the log), not for callers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../apps/shared/logger.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectAs, errorText } from './support/gateway-client.ts';
import { FILESYSTEM, stdioServer } from './support/upstreams.ts';

interface LogLine {
  level: number;
  msg: string;
  server?: string;
  reason?: string;
}

const WARN = 40;
const API_KEY = 'stdio-env-api-key-97531';
/**
 * Writes its key in colour, a right-to-left override, and Node's stack frames and version (which
 * say nothing of why), then exits 3 before reading anything.
 */
const QUITTING_WITH_ITS_KEY = String.raw`process.stderr.write('\x1b[31mlogin failed with API_KEY=' + process.env.API_KEY + '\x1b[0m\u202etxt.exe\n    at main (file:///srv/x.js:1:1)\n\nNode.js v20.0.0\n', () => process.exit(3))`;
const QUITTING_WITH_A_LONG_LINE = String.raw`process.stderr.write('first line\n' + 'x'.repeat(1500) + ' the end\n', () => process.exit(2))`;

describe('why a stdio server is down', { timeout: 90_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let dir: string;
  const logLines: LogLine[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-down-reason-'));
    writeFileSync(join(dir, 'a-file'), 'not a directory');
    writeFileSync(join(dir, 'not-executable'), '#!/bin/sh\n', { mode: 0o644 });
    issuer = await startTestIssuer();
    const logger = createLogger('resource-server', 'debug', { write: (line: string) => void logLines.push(JSON.parse(line) as LogLine) });
    server = await startResourceServer({
      issuer: issuer.issuer,
      logger,
      config: {
        servers: [
          // `command` is this node binary, by its absolute path: it exists, the directory does not.
          stdioServer('badcwd', FILESYSTEM, [dir], { cwd: join(dir, 'no-such-dir') }),
          stdioServer('filecwd', FILESYSTEM, [dir], { cwd: join(dir, 'a-file') }),
          { ...stdioServer('nocmd', FILESYSTEM), command: 'gatehouse-test-no-such-command', args: [] },
          { ...stdioServer('nofile', FILESYSTEM), command: join(dir, 'no-such-command'), args: [] },
          { ...stdioServer('noexec', FILESYSTEM), command: join(dir, 'not-executable'), args: [] },
          stdioServer('files', FILESYSTEM, [join(dir, 'no-such-dir')]),
          { ...stdioServer('leaky', FILESYSTEM), args: ['-e', QUITTING_WITH_ITS_KEY], env: { API_KEY } },
          { ...stdioServer('long', FILESYSTEM), args: ['-e', QUITTING_WITH_A_LONG_LINE] },
        ],
      },
    });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Each server's reason from GET /gateway/servers, as the admin page gets it. */
  async function reasons(): Promise<Record<string, string | undefined>> {
    const token = await issuer.mint({ claims: { scope: 'mcp:admin' } });
    const response = await fetch(`${server.baseUrl}/gateway/servers`, { headers: { accept: 'application/json', authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    const { servers } = await response.json() as { servers: Array<{ name: string; reason?: string }> };
    return Object.fromEntries(servers.map(({ name, reason }) => [name, reason]));
  }

  async function reasonOf(name: string): Promise<string> {
    return waitFor(`a reason for ${name} on GET /gateway/servers`, async () => (await reasons())[name], 30_000);
  }

  const spawnFailures: Array<[server: string, expected: () => string]> = [
    ['badcwd', () => `it failed to start: its cwd ${join(dir, 'no-such-dir')} does not exist`],
    ['filecwd', () => `it failed to start: its cwd ${join(dir, 'a-file')} is not a directory`],
    ['nocmd', () => 'it failed to start: command `gatehouse-test-no-such-command` was not found on PATH'],
    ['nofile', () => `it failed to start: command \`${join(dir, 'no-such-command')}\` does not exist`],
    ['noexec', () => `it failed to start: command \`${join(dir, 'not-executable')}\` could not be run: permission denied (EACCES; is it executable?)`],
  ];
  for (const [name, expected] of spawnFailures) {
    test(`a process that cannot be spawned (${name}) is down for what is missing, on the admin page and in the log`, async () => {
      assert.equal(await reasonOf(name), expected());
      const down = logLines.filter((line) => line.server === name && line.msg === 'mcp server is down');
      assert.ok(down.length > 0);
      for (const line of down) assert.equal(line.reason, expected());
      const warned = logLines.filter((line) => line.server === name && line.level >= WARN).map((line) => line.msg);
      assert.deepEqual(new Set(warned), new Set(['mcp server is down']), 'one warn line per failure, with its reason');
    });
  }

  test('a server that quits at start (the reference filesystem server on a missing directory) is down for what its stderr says', async () => {
    const expected = /^it failed to start: it exited with code 1; its stderr says: .*Error: None of the specified directories are accessible$/;
    assert.match(await reasonOf('files'), expected);
    const down = logLines.filter((line) => line.server === 'files' && line.msg === 'mcp server is down');
    assert.ok(down.length > 0);
    for (const line of down) assert.match(String(line.reason), expected);
    const warned = logLines.filter((line) => line.server === 'files' && line.level >= WARN).map((line) => line.msg);
    assert.deepEqual(new Set(warned), new Set(['mcp server is down']), 'one warn line per failure, with its reason');
  });

  test('its stderr is quoted without its credentials, control characters escaped, without stack frames', async () => {
    const expected = String.raw`it failed to start: it exited with code 3; its stderr says: \x1b[31mlogin failed with API_KEY=[redacted]\x1b[0m\u202etxt.exe`;
    assert.equal(await reasonOf('leaky'), expected);
    const down = logLines.filter((line) => line.server === 'leaky' && line.msg === 'mcp server is down');
    assert.ok(down.length > 0);
    for (const line of down) assert.equal(line.reason, expected);
  });

  test('only the end of a long stderr is quoted, at most 300 characters of it', async () => {
    const reason = await reasonOf('long');
    const [start, stderr] = reason.split('; its stderr says: ');
    assert.equal(start, 'it failed to start: it exited with code 2');
    assert.ok(stderr!.length <= 300, `at most 300 characters, got ${stderr!.length}`);
    assert.match(stderr!, /^…x+ the end$/, 'the last line\'s end, marked as cut');
  });

  test('a caller\'s tool error says it exited, without quoting its stderr', async () => {
    await reasonOf('leaky');
    const { client } = await connectAs(server.mcpUrl, await issuer.mint({ claims: { scope: 'mcp:read' } }));
    try {
      const text = errorText(await client.callTool({ name: 'leaky__anything', arguments: {} }));
      assert.match(text, /^The leaky server is unavailable: it failed to start: it exited with code 3; it is restarted in \d+ s\.$/);
    } finally {
      await client.close();
    }
  });
});
