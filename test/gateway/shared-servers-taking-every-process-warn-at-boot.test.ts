/**
 * Shared stdio servers that take every process of `resource_server.max_processes` (they run until
 * the resource server stops) leave per_user servers none: each user's call was refused with
 * "retry once one has stopped", audited as limited, though no retry could pass before a restart.
 * Boot now warns, naming the setting. Through the real loadConfig and a YAML file in a temp dir.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../../apps/shared/config/load-config.ts';
import { servingWarnings } from '../../apps/shared/serving-warnings.ts';

const shared = (name: string) => [`  - name: ${name}`, '    command: node', '    scopes: { default: mcp:read }'];
const perUser = (name: string) => [...shared(name), '    per_user: true'];
const http = (name: string) => [`  - name: ${name}`, '    url: http://127.0.0.1:3001/mcp', '    scopes: { default: mcp:read }'];

describe('the boot warning about shared stdio servers taking every process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-process-warning-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function warningsFor(maxProcesses: number, servers: string[][]): string[] {
    writeFileSync(join(dir, 'gatehouse.yaml'), ['resource_server:', `  max_processes: ${maxProcesses}`, '  servers:', ...servers.flat().map((line) => `  ${line}`)].join('\n'));
    return servingWarnings(loadConfig({ GATEHOUSE_CONFIG: 'gatehouse.yaml' }, dir), 'resource-server');
  }

  const cases: Array<[string, number, string[][], RegExp | undefined]> = [
    ['two shared servers and a limit of 2, with a per_user one', 2, [shared('a'), shared('b'), perUser('mine')],
      /^resource_server\.max_processes is 2 and the 2 shared stdio servers take every one .*: the per_user servers mine can start no process for anyone\. Raise resource_server\.max_processes above 2\.$/],
    ['three shared servers and a limit of 2, with two per_user ones', 2, [shared('a'), shared('b'), shared('c'), perUser('p1'), perUser('p2')],
      /^resource_server\.max_processes is 2 and the 3 shared stdio servers take more than that .*the per_user servers p1, p2 can start/],
    ['one shared server and a limit of 2, with a per_user one (one process left)', 2, [shared('a'), perUser('mine')], undefined],
    ['two shared servers and a limit of 2, no per_user one', 2, [shared('a'), shared('b'), http('remote')], undefined],
    ['HTTP servers take no process', 1, [http('remote'), http('other'), perUser('mine')], undefined],
  ];
  for (const [name, maxProcesses, servers, expected] of cases) {
    test(`${name}: ${expected ? 'warns' : 'no warning'}`, () => {
      const warnings = warningsFor(maxProcesses, servers).filter((warning) => warning.includes('max_processes'));
      if (expected) {
        assert.equal(warnings.length, 1, warnings.join('\n'));
        assert.match(warnings[0]!, expected);
      } else {
        assert.deepEqual(warnings, []);
      }
    });
  }
});
