/**
 * The shipped gateway examples gate writes as they say. An operator copies them as they are.
 * - The README's ("Protect your MCP servers") puts the filesystem server behind Gatehouse: a
 *   read-only token reads the share and changes nothing. Its first version listed only
 *   `write_file` and `move_file` as `mcp:write` over a `mcp:read` default, and `edit_file` and
 *   `create_directory` changed the share with a read-only token.
 * - docker-compose's ops/gateway.yml keeps server-everything's default at `mcp:read` (its prompts
 *   and resources) and names every tool that server does not mark read-only.
 * Both run against the installed servers, so a version adding a writing tool fails here rather
 * than in a deployment. Also: with a `mcp:read` default, the log warns of the tools not marked
 * read-only that only the default covers, once per tool.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { Gateway } from '../../apps/resource-server/src/gateway/gateway.ts';
import { loadConfig } from '../../apps/shared/config/load-config.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import type { McpScope } from '../../apps/shared/mcp-scopes.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { connectAs, resultText, waitForServers } from './support/gateway-client.ts';
import { EVERYTHING, FILESYSTEM, stdioServer } from './support/upstreams.ts';

interface ExampleScopes {
  default: McpScope;
  tools: Record<string, McpScope>;
}

/** The `files` server's scopes in the README's example, as written there. */
function readmeFilesScopes(): ExampleScopes {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Protect your MCP servers'));
  const example = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(example, 'the section has a yaml example');
  const servers = (parse(example) as { resource_server: { servers: Array<{ name: string; scopes: ExampleScopes }> } }).resource_server.servers;
  const files = servers.find((server) => server.name === 'files');
  assert.ok(files, 'the example has the files server');
  return files.scopes;
}

/** Each of `server`'s tools as the gateway lists them: whether it is marked read-only, and the scope it needs. */
async function scopesTheToolsNeed(running: RunningResourceServer, issuer: TestIssuer, server: string, scopes: ExampleScopes) {
  const { client } = await connectAs(running.mcpUrl, await issuer.mint({ claims: { sub: randomUUID(), scope: 'mcp:read' } }));
  try {
    const tools = (await client.listTools()).tools.filter((tool) => tool.name.startsWith(`${server}__`));
    return tools.map((tool) => {
      const name = tool.name.slice(`${server}__`.length);
      return { name, readOnly: tool.annotations?.readOnlyHint === true, scope: scopes.tools[name] ?? scopes.default };
    });
  } finally {
    await client.close();
  }
}

describe('the README\'s filesystem example with a read-only token', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let share: string;

  before(async () => {
    share = mkdtempSync(join(tmpdir(), 'gatehouse-share-'));
    writeFileSync(join(share, 'payroll.txt'), 'salary: 100\n');
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer, config: { servers: [stdioServer('files', FILESYSTEM, [share], { scopes: readmeFilesScopes() })] } });
    await waitForServers(server.baseUrl, { files: 'ready' });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
    rmSync(share, { recursive: true, force: true });
  });

  test('every tool the server does not mark read-only needs mcp:write; the read-only ones take mcp:read', async () => {
    const needs = await scopesTheToolsNeed(server, issuer, 'files', readmeFilesScopes());
    assert.ok(needs.length >= 10, `the filesystem server lists its tools (${needs.length})`);
    for (const { name, readOnly, scope } of needs) assert.equal(scope, readOnly ? 'mcp:read' : 'mcp:write', `${name} (readOnlyHint ${readOnly})`);
  });

  test('reads the share, and edit_file, create_directory and write_file are refused with the share unchanged', async () => {
    const payroll = join(share, 'payroll.txt');
    const { client } = await connectAs(server.mcpUrl, await issuer.mint({ claims: { sub: randomUUID(), scope: 'mcp:read' } }));
    try {
      assert.match(resultText(await client.callTool({ name: 'files__read_text_file', arguments: { path: payroll } })), /salary: 100/);
      const writes: Array<[string, Record<string, unknown>]> = [
        ['edit_file', { path: payroll, edits: [{ oldText: 'salary: 100', newText: 'salary: 999999' }] }],
        ['create_directory', { path: join(share, 'made-by-a-reader') }],
        ['write_file', { path: payroll, content: 'salary: 0\n' }],
      ];
      for (const [tool, args] of writes) {
        await assert.rejects(client.callTool({ name: `files__${tool}`, arguments: args }), /insufficient_scope|403/, `${tool} with mcp:read`);
      }
    } finally {
      await client.close();
    }
    assert.equal(readFileSync(payroll, 'utf8'), 'salary: 100\n');
    assert.equal(existsSync(join(share, 'made-by-a-reader')), false);
  });
});

describe('a mcp:read default over tools not marked read-only', { timeout: 60_000 }, () => {
  test('lists that differ by caller warn once per tool not warned of yet, not at every list', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-gateway-'));
    try {
      writeFileSync(join(dir, 'gatehouse.yaml'), [
        'resource_server:', '  servers:', '    - name: remote', '      url: http://127.0.0.1:9/mcp', '      scopes: { default: mcp:read }',
      ].join('\n'));
      const { servers } = loadConfig({ GATEHOUSE_CONFIG: 'gatehouse.yaml' }, dir).resourceServer;
      const warnings: Array<Record<string, unknown>> = [];
      const logger = createLogger('resource-server', 'warn', { write: (line: string) => warnings.push(JSON.parse(line) as Record<string, unknown>) });
      const gateway = new Gateway({ servers, maxProcesses: 1, maxProcessesPerUser: 1, logger });
      const remote = gateway.upstreams[0]!;
      const schema = { type: 'object' };
      // What an HTTP server answering by the caller's identity may list to two users.
      const alice = [{ name: 'create_issue', inputSchema: schema }, { name: 'get_issue', inputSchema: schema, annotations: { readOnlyHint: true } }];
      const bob = [{ name: 'create_issue', inputSchema: schema }, { name: 'merge_pr', inputSchema: schema }];
      for (let i = 0; i < 50; i += 1) gateway.expose(remote, 'tools', i % 2 === 0 ? alice : bob);
      const warned = warnings.filter((w) => String(w.msg).includes('readOnlyHint'));
      assert.deepEqual(warned.map((w) => w.first), [['create_issue'], ['create_issue', 'merge_pr']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('warns once, naming them, and not for the ones the config names', async () => {
    const warnings: Array<Record<string, unknown>> = [];
    const logger = createLogger('resource-server', 'warn', { write: (line: string) => warnings.push(JSON.parse(line) as Record<string, unknown>) });
    const share = mkdtempSync(join(tmpdir(), 'gatehouse-share-'));
    const issuer = await startTestIssuer();
    const server = await startResourceServer({
      issuer: issuer.issuer,
      logger,
      config: { servers: [stdioServer('files', FILESYSTEM, [share], { scopes: { default: 'mcp:read', tools: { write_file: 'mcp:write', move_file: 'mcp:write' } } })] },
    });
    try {
      await waitForServers(server.baseUrl, { files: 'ready' });
      for (let i = 0; i < 2; i += 1) {
        const { client } = await connectAs(server.mcpUrl, await issuer.mint({ claims: { sub: randomUUID(), scope: 'mcp:read' } }));
        await client.listTools();
        await client.close();
      }
      const warned = warnings.filter((w) => w.server === 'files' && String(w.msg).includes('readOnlyHint'));
      assert.equal(warned.length, 1, JSON.stringify(warned));
      assert.deepEqual([...(warned[0]!.first as string[])].sort(), ['create_directory', 'edit_file']);
    } finally {
      await server.close();
      await issuer.close();
      rmSync(share, { recursive: true, force: true });
    }
  });
});

describe('the compose example\'s ops/gateway.yml over the installed server-everything', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let scopes: ExampleScopes;

  before(async () => {
    const file = parse(readFileSync(new URL('../../ops/gateway.yml', import.meta.url), 'utf8')) as { resource_server: { servers: Array<{ name: string; scopes: ExampleScopes }> } };
    scopes = file.resource_server.servers.find((entry) => entry.name === 'everything')!.scopes;
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer, config: { servers: [stdioServer('everything', EVERYTHING, ['stdio'], { scopes })] } });
    await waitForServers(server.baseUrl, { everything: 'ready' });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  test('no tool it does not mark read-only is open to mcp:read', async () => {
    const needs = await scopesTheToolsNeed(server, issuer, 'everything', scopes);
    assert.ok(needs.length >= 10, `server-everything lists its tools (${needs.length})`);
    const open = needs.filter(({ readOnly, scope }) => !readOnly && scope === 'mcp:read').map(({ name }) => name);
    assert.deepEqual(open, []);
    assert.equal(needs.find(({ name }) => name === 'get-env')?.scope, 'mcp:admin', 'get-env prints that server\'s environment');
  });
});
