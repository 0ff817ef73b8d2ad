/**
 * The operator's README against the code: its env var table is the one the config schema's
 * annotations generate; its configuration reference names exactly the schema's fields and, loaded
 * as a config file, gives exactly the defaults (so no documented default is wrong and no documented
 * field is unknown); its metrics table names exactly the metrics and labels the apps register.
 * The quick start itself is run in quick-start.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createAuthServerMetrics } from '../../apps/auth-server/src/ops/auth-server-metrics.ts';
import { createResourceServerMetrics } from '../../apps/resource-server/src/ops/resource-server-metrics.ts';
import { ENV_FIELDS, listConfigFields } from '../../apps/shared/config/config-fields.ts';
import { loadConfig } from '../../apps/shared/config/load-config.ts';
import { createMetricsRegistry } from '../../apps/shared/metrics.ts';
import { ENV_TABLE_END, ENV_TABLE_START, formatEnvVarTable } from '../../scripts/config-env-table.ts';
import { REPO_ROOT } from './support/processes.ts';

const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

describe('README.md for operators', () => {
  test('documents every environment variable the configuration reads, in its table', () => {
    const tableRows = readme.split('\n').filter((line) => line.startsWith('| `'));
    for (const name of [...Object.keys(ENV_FIELDS), 'GATEHOUSE_CONFIG']) {
      assert.ok(tableRows.some((row) => row.startsWith(`| \`${name}\` |`)), `${name} has a row in the env var table`);
    }
  });

  test('its env var table is the one the config schema generates (run scripts/config-env-table.ts --write)', () => {
    const table = readme.slice(readme.indexOf(ENV_TABLE_START) + ENV_TABLE_START.length, readme.indexOf(ENV_TABLE_END)).trim();
    assert.equal(table, formatEnvVarTable());
  });

  test('its configuration reference names every field of the schema, and no other', () => {
    const block = /<!-- config-reference[^>]*-->\n```yaml\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const documented = new Set<string>();
    const parents: string[] = [];
    for (const line of block.split('\n')) {
      // A key, at its depth (2 spaces a level), also when commented out (`# issuer: …`).
      const match = /^( *)(?:# )?([a-z_]+):(.*)$/.exec(line);
      if (!match) continue;
      const [, indent, key, rest] = match as unknown as [string, string, string, string];
      parents.length = indent.length / 2;
      const path = [...parents, key].join('.');
      documented.add(path);
      parents.push(key);
      // An inline mapping (`{ max: 20, window: 10m }`) names its fields too.
      const inline = /^\s*\{(.*)\}/.exec(rest.split(' #')[0]!)?.[1];
      for (const [, child] of inline?.matchAll(/(?:^|,)\s*([a-z_]+):/g) ?? []) documented.add(`${path}.${child}`);
    }
    const fields = new Set(listConfigFields().filter((field) => !field.inList).map((field) => field.path));
    assert.deepEqual([...fields].filter((path) => !documented.has(path)), [], 'schema fields missing from the reference');
    assert.deepEqual([...documented].filter((path) => !fields.has(path)), [], 'reference fields the schema does not have');
  });

  test('shows every field of a user, an upstream and a gateway server in a YAML example', () => {
    const examples = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
    const missing = listConfigFields().filter((field) => field.inList)
      .filter((field) => !new RegExp(`(^|[\\s{,-])${field.path.split('.').at(-1)}:`, 'm').test(examples));
    assert.deepEqual(missing.map((field) => field.path), []);
  });

  test('its configuration reference is a valid config file that yields exactly the defaults', () => {
    const block = /<!-- config-reference[^>]*-->\n```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'a yaml block marked config-reference');
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-readme-'));
    try {
      writeFileSync(join(dir, 'reference.yml'), block);
      const fromFile = loadConfig({ GATEHOUSE_CONFIG: join(dir, 'reference.yml') }, dir);
      // Where the file is (for the commands the banner prints) is not a setting of it.
      assert.deepEqual(fromFile.authServer.cliEnvironment, { GATEHOUSE_CONFIG: join(dir, 'reference.yml') });
      assert.deepEqual({ ...fromFile, authServer: { ...fromFile.authServer, cliEnvironment: {} } }, loadConfig({}, dir));
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

  test('its metrics table names every metric the apps register, each with exactly its labels', () => {
    const section = readme.split(/^## /m).find((part) => part.startsWith('Metrics\n')) ?? '';
    // `| \`name\` | \`label\` (values, …), \`label\` | what |`: the labels are the backticked words outside parentheses.
    const documented = new Map(section.split('\n').flatMap((line) => {
      const [, name, labels] = /^\| `(gatehouse_[a-z_]+)` \|([^|]*)\|/.exec(line) ?? [];
      if (!name) return [];
      const outside = labels!.replace(/\([^)]*\)/g, '');
      return [[name, [...outside.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!).sort()]] as const;
    }));
    const auth = createMetricsRegistry('auth-server');
    createAuthServerMetrics(auth);
    const resource = createMetricsRegistry('resource-server');
    createResourceServerMetrics(resource);
    const registered = new Map([...auth.getMetricsAsArray(), ...resource.getMetricsAsArray()]
      .map((metric) => [metric.name, [...(metric as unknown as { labelNames: string[] }).labelNames].sort()] as const));
    assert.ok(documented.size > 0, 'a metrics table in the Metrics section');
    assert.deepEqual(Object.fromEntries(documented), Object.fromEntries(registered));
  });

  test('the full list of the auth-server\'s connection refusal reasons it points to names every reason code recorded', () => {
    const listed = /the full list is in\s+`([^`]+)`/.exec(readme)?.[1];
    assert.ok(listed, 'the README points to the full list');
    const documented = readFileSync(join(REPO_ROOT, listed), 'utf8');
    // The write side: every literal a `reasonCode:` is set to (plain, or either branch of a ternary),
    // read up to the `reason` beside it, whose words may hold quotes (`provider's`).
    const dir = join(REPO_ROOT, 'apps', 'auth-server', 'src', 'connections');
    const recorded = new Set(readdirSync(dir).filter((file) => /^(explain|record)-.*\.ts$|^refusal\.ts$/.test(file))
      .flatMap((file) => readFileSync(join(dir, file), 'utf8').split('\n'))
      .flatMap((line) => [...(line.split('reasonCode:')[1] ?? '').split(/,\s*reason\b|,\s*$/)[0]!.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]!)));
    assert.ok(recorded.size >= 20, `reason codes found: ${[...recorded].join(', ')}`);
    assert.deepEqual([...recorded].filter((code) => !documented.includes(`\`${code}\``)), []);
  });

  test('its upgrade steps rebuild dist/ for an operator who runs the apps from it, as it advises', () => {
    const section = (heading: string) => readme.split(/^## /m).find((part) => part.startsWith(`${heading}\n`)) ?? '';
    assert.match(section('Stopping'), /`node dist\/apps\/auth-server\/src\/main\.js` \(after `npm run build`\)/, 'the README advises running the compiled apps');
    const pull = section('Upgrading').split('\n').findIndex((line) => line.includes('`git pull && npm ci`'));
    assert.ok(pull >= 0, 'an upgrade step that pulls the new version');
    const step = section('Upgrading').split('\n').slice(pull).join('\n').split(/\n\d+\. /)[0]!;
    assert.match(step, /`npm run build`/, 'the step that pulls new sources and migrations also rebuilds dist/, or the old build runs the new migrations');
  });

  test('covers what an operator needs on day one', () => {
    for (const heading of ['Quick start', 'Connect a client', 'Protect your MCP servers', 'Running with Docker', 'Configuration', 'TLS', 'Logs', 'Metrics', 'Health checks', 'Signing keys and rotation', 'Backup and restore', 'Upgrading', 'Production checklist']) {
      assert.match(readme, new RegExp(`^## ${heading}$`, 'm'), `a "${heading}" section`);
    }
    assert.ok(readme.includes('claude mcp add --transport http gatehouse http://localhost:4001/mcp'), 'how to add it to Claude Code');
    assert.ok(readme.includes('allowed_origins: [http://localhost:6274]'), 'what MCP Inspector needs');
    assert.ok(readme.includes('TRUST_PROXY=true'), 'the reverse-proxy set-up for claude.ai');
    assert.ok(readme.includes('gatehouse backup'), 'a backup command');
  });
});
