/**
 * The operator's README against the code: every environment variable config.ts reads is
 * documented, and the configuration reference, loaded as a config file, gives exactly the
 * defaults (so no documented default is wrong and no documented field is unknown). The quick
 * start itself is run in quick-start.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ENV_FIELDS } from '../../apps/shared/config/config-fields.ts';
import { loadConfig } from '../../apps/shared/config/load-config.ts';
import { REPO_ROOT } from './support/processes.ts';

const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

describe('README.md for operators', () => {
  test('documents every environment variable config.ts reads, in its table', () => {
    const tableRows = readme.split('\n').filter((line) => line.startsWith('| `'));
    for (const name of [...Object.keys(ENV_FIELDS), 'GATEHOUSE_CONFIG']) {
      assert.ok(tableRows.some((row) => row.startsWith(`| \`${name}\` |`)), `${name} has a row in the env var table`);
    }
  });

  test('its configuration reference is a valid config file that yields exactly the defaults', () => {
    const block = /<!-- config-reference[^>]*-->\n```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'a yaml block marked config-reference');
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-readme-'));
    try {
      writeFileSync(join(dir, 'reference.yml'), block);
      assert.deepEqual(loadConfig({ GATEHOUSE_CONFIG: join(dir, 'reference.yml') }, dir), loadConfig({}, dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('its gateway example is a valid configuration with the servers it describes', () => {
    const section = readme.split(/^## /m).find((part) => part.startsWith('Protect your MCP servers\n'));
    assert.ok(section, 'a "Protect your MCP servers" section');
    const example = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(example, 'with a yaml example');
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-readme-'));
    try {
      writeFileSync(join(dir, 'gateway.yml'), example);
      const env = { GATEHOUSE_CONFIG: join(dir, 'gateway.yml'), EVERYTHING_KEY: 'k', GATEWAY_CLIENT_SECRET: 's' };
      const { servers, identityClient } = loadConfig(env, dir).resourceServer;
      assert.deepEqual(servers.map(({ name, transport }) => `${name}:${transport}`), ['files:stdio', 'everything:http']);
      assert.equal(identityClient?.clientId, 'gatehouse-gateway');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('covers what an operator needs on day one', () => {
    for (const heading of ['Quick start', 'Connect a client', 'Protect your MCP servers', 'Running with Docker', 'Configuration', 'TLS', 'Logs', 'Metrics', 'Health checks', 'Signing keys and rotation', 'Backup and restore', 'Upgrading', 'Production checklist']) {
      assert.match(readme, new RegExp(`^## ${heading}$`, 'm'), `a "${heading}" section`);
    }
    assert.ok(readme.includes('claude mcp add --transport http gatehouse http://localhost:4001/mcp'), 'how to add it to Claude Code');
    assert.ok(readme.includes('allowed_origins: [http://localhost:6274]'), 'what MCP Inspector needs');
    assert.ok(readme.includes('TRUST_PROXY=true'), 'the reverse-proxy set-up for claude.ai');
    assert.ok(readme.includes('.backup'), 'SQLite online backup');
  });
});
