/**
 * A stdio server that quits at once is down for its exit, and only that is warned of: a review
 * found, beside "mcp server is down", a warn line "the connection to an mcp server reported an
 * error … write EPIPE … calls go on", when the gateway's write to the process's stdin lost the
 * race with its exit. The failed write is a consequence of the exit, and calls do not go on.
 *
 * Made deterministic with processes that close their stdin before the gateway's next write: each
 * reads initialize, closes its stdin, answers, and then exits (or lingers), so the gateway's
 * `notifications/initialized` always meets a pipe nobody reads. One that lingers can be sent
 * nothing more: it is ended and started again, not left `ready` with every call timing out.
 * Found on the way: that failed write was the start's own, which then never ended, and the server
 * stayed `starting` for ever. Real resource server, `node -e` processes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../apps/shared/logger.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { stdioServer, SCRIPTED } from './support/upstreams.ts';

interface LogLine {
  level: number;
  msg: string;
  server?: string;
  reason?: string;
  error?: string;
}

const WARN = 40;

/** Reads initialize (blocking, from fd 0), closes fd 0, answers it, then does `then`. */
const closingItsStdin = (then: string) => String.raw`
const fs = require('node:fs');
const buffer = Buffer.alloc(65536);
let text = '';
while (!text.includes('\n')) {
  const read = fs.readSync(0, buffer);
  if (read === 0) process.exit(4);
  text += buffer.toString('utf8', 0, read);
}
const { id, params } = JSON.parse(text.slice(0, text.indexOf('\n')));
fs.closeSync(0);
const answer = { jsonrpc: '2.0', id, result: { protocolVersion: params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'closing', version: '1' } } };
process.stdout.write(JSON.stringify(answer) + '\n', () => { ${then} });
`;

/**
 * A wrapper, as npx, uvx or a shell script is: it starts the server as its own child, which holds
 * the wrapper's stdout and stderr (inherited), and exits when that child does, or `exitAtOnce`.
 * The child writes its pid to a file in `pids` (so the test ends it) and lives until then.
 */
const wrapping = (pids: string, server: string, exitAtOnce = false) => String.raw`
const { spawn } = require('node:child_process');
const child = spawn(process.execPath, ['-e', ${JSON.stringify(`require('node:fs').writeFileSync(require('node:path').join(${JSON.stringify(pids)}, String(process.pid)), '');
${server}`)}], { stdio: 'inherit' });
${exitAtOnce ? 'process.exit(3);' : `require('node:fs').closeSync(0);
child.on('exit', (code) => process.exit(code ?? 1));`}
`;

describe('a stdio server that closes its stdin', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const lines: LogLine[] = [];
  const pids = mkdtempSync(join(tmpdir(), 'gatehouse-wrapped-'));

  before(async () => {
    issuer = await startTestIssuer();
    const logger = createLogger('resource-server', 'debug', { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
    server = await startResourceServer({
      issuer: issuer.issuer,
      logger,
      config: {
        servers: [
          { ...stdioServer('quitting', SCRIPTED), args: ['-e', closingItsStdin('process.exit(3)')] },
          { ...stdioServer('lingering', SCRIPTED), args: ['-e', closingItsStdin('setInterval(() => {}, 60_000)')] },
          { ...stdioServer('exiting', SCRIPTED), args: ['-e', 'process.exit(3)'] },
          { ...stdioServer('wrapped', SCRIPTED), args: ['-e', wrapping(pids, closingItsStdin('setInterval(() => {}, 60_000)'))] },
        ],
      },
    });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
    for (const pid of readdirSync(pids)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // ended already
      }
    }
    rmSync(pids, { recursive: true, force: true });
  });

  const warned = (name: string) => lines.filter((line) => line.server === name && line.level >= WARN);
  const downs = (name: string) => warned(name).filter((line) => line.msg === 'mcp server is down');

  for (const name of ['quitting', 'lingering']) {
    test(`(${name}) is warned of as down for its exit, and the write it failed is no warn line of its own`, async () => {
      await waitFor(`a warn line about ${name}`, () => warned(name).length > 0, 20_000);
      assert.deepEqual(warned(name).map(({ msg, reason }) => ({ msg, reason })), [{ msg: 'mcp server is down', reason: 'it exited' }]);
    });

    // The write that failed was the start's own (notifications/initialized): it waited for a
    // `drain` that never came, and the server stayed `starting` for ever.
    test(`(${name}) is started again, each time down for its exit alone`, async () => {
      await waitFor(`${name} down twice`, () => downs(name).length >= 2, 20_000);
      assert.deepEqual(new Set(warned(name).map((line) => line.msg)), new Set(['mcp server is down']), JSON.stringify(warned(name)));
    });
  }

  // A server behind a wrapper: the wrapper is ended, but its child holds its stdout and stderr,
  // so the end of the process was never seen. It stayed `ready`, every call "Not connected".
  test('(wrapped) one behind a wrapper is ended and started again as well, though the wrapper\'s child holds its pipes', async () => {
    await waitFor('wrapped down twice', () => downs('wrapped').length >= 2, 20_000);
    assert.deepEqual(new Set(warned('wrapped').map((line) => line.msg)), new Set(['mcp server is down']), JSON.stringify(warned('wrapped')));
  });

  // The review's case: whether the gateway's first write meets the pipe open or closed is a race.
  test('one that exits before reading anything is down for that alone, start after start', async () => {
    await waitFor('exiting down three times', () => downs('exiting').length >= 3, 20_000);
    assert.deepEqual(new Set(warned('exiting').map((line) => line.msg)), new Set(['mcp server is down']), JSON.stringify(warned('exiting')));
    for (const line of downs('exiting')) assert.equal(line.reason, 'it failed to start: it exited with code 3');
  });
});
