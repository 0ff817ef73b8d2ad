/**
 * An answer the MCP endpoint streams reaches the client whole on every Node line Gatehouse runs
 * on, not only the one the suite runs under: this Node, and each Node binary listed in
 * GATEHOUSE_TEST_NODES (colon-separated paths; .ci/run installs Node 22, which the Dockerfile
 * runs, and Node 24). On Node 22 the end of an answer corked by coalesceWrites went out before
 * the events it held, so a caller read an event stream that ended empty: every call relayed to a
 * server behind the gateway came back with nothing.
 *
 * Each Node runs test/mcp/support/streamed-answers.ts: a plain node:http server that answers
 * through coalesceWrites, read back by node:http.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { SCENARIOS } from './support/streamed-answers.ts';

const SCRIPT = join(import.meta.dirname, 'support', 'streamed-answers.ts');
const nodes = [process.execPath, ...(process.env.GATEHOUSE_TEST_NODES ?? '').split(':').filter(Boolean)];

for (const node of nodes) {
  describe(`streamed answers under ${node === process.execPath ? `this Node (${process.version})` : node}`, () => {
    let run: { node: string; answers: Record<string, string> } | undefined;
    const answers = async () => {
      assert.ok(existsSync(node), `GATEHOUSE_TEST_NODES names ${node}, which does not exist`);
      run ??= JSON.parse((await promisify(execFile)(node, ['--import', 'tsx', SCRIPT], { timeout: 30_000 })).stdout) as typeof run;
      return run!.answers;
    };

    for (const [name, { body }] of Object.entries(SCENARIOS)) {
      test(`${name}: the client reads every event`, async () => {
        assert.equal((await answers())[name], body);
      });
    }
  });
}
