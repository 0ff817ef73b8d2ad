/**
 * Which scope a gateway tool needs, from a real configuration: its own when `scopes.tools` names
 * it, else the server's default. Tool names are the upstream's choice, and `scopes.tools` is a
 * plain object: names of Object.prototype's members (`constructor`, `toString`, …) read an
 * inherited function as their scope, which no token holds, so those tools could never be called.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Gateway } from '../../apps/resource-server/src/gateway/gateway.ts';
import { loadConfig } from '../../apps/shared/config/load-config.ts';
import { createLogger } from '../../apps/shared/logger.ts';

describe('the scope a gateway tool needs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tool-scopes-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'gatehouse.yaml'), [
    'resource_server:',
    '  servers:',
    '    - name: remote',
    '      url: http://127.0.0.1:9/mcp',
    '      scopes: { default: mcp:read, tools: { deploy: mcp:admin, write-note: mcp:write } }',
  ].join('\n'));
  const config = loadConfig({ GATEHOUSE_CONFIG: 'gatehouse.yaml' }, dir).resourceServer;
  const gateway = new Gateway({ servers: config.servers, maxProcesses: 1, maxProcessesPerUser: 1, logger: createLogger('resource-server', 'silent') });
  const [remote] = gateway.upstreams;

  const cases: Array<[string, string]> = [
    ['deploy', 'mcp:admin'],
    ['write-note', 'mcp:write'],
    ['read-note', 'mcp:read'],
    ['constructor', 'mcp:read'],
    ['toString', 'mcp:read'],
    ['hasOwnProperty', 'mcp:read'],
    ['__proto__', 'mcp:read'],
    ['valueOf', 'mcp:read'],
  ];
  for (const [tool, scope] of cases) {
    test(`${tool}: ${scope}`, () => {
      assert.equal(gateway.scopeFor('tools', remote!, tool), scope);
    });
  }
});
