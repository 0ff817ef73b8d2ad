/**
 * `GET /gateway/servers`, what the admin pages read of the gateway: protected like /mcp (same
 * 401 challenge), only for mcp:admin (403 insufficient_scope), and listing a real stdio MCP server
 * (server-memory) with its state, its scopes and, once a client listed them, its tools.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StdioServerConfig } from '../../apps/shared/config/gateway-servers.ts';
import { PROJECT_ROOT } from '../../apps/shared/project-root.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { connectClient, mcpRequest, parseChallenge } from '../helpers/mcp-http.ts';
import { waitFor } from '../helpers/wait-for.ts';

const MEMORY_SERVER = join(PROJECT_ROOT, 'node_modules', '@modelcontextprotocol', 'server-memory', 'dist', 'index.js');
const METADATA_URL = 'http://localhost:4001/.well-known/oauth-protected-resource/mcp';

interface Described {
  name: string;
  transport: string;
  perUser: boolean;
  state: string;
  reason?: string;
  processes?: number;
  scopes: { default: string; tools: Record<string, string> };
  tools?: Array<{ name: string; scope: string }>;
}

describe('GET /gateway/servers', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let dir: string;
  let url: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-gw-servers-'));
    const memory: StdioServerConfig = {
      name: 'memory',
      transport: 'stdio',
      command: process.execPath,
      args: [MEMORY_SERVER],
      env: { MEMORY_FILE_PATH: join(dir, 'memory.jsonl') },
      perUser: false,
      idleTimeout: 600,
      timeout: 30,
      startTimeout: 60,
      scopes: { default: 'mcp:read', tools: { create_entities: 'mcp:write' } },
    };
    issuer = await startTestIssuer();
    server = await startResourceServer({ issuer: issuer.issuer, config: { servers: [memory], allowedOrigins: ['http://localhost:6274'] } });
    url = `${server.baseUrl}/gateway/servers`;
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const get = (headers: Record<string, string> = {}) => fetch(url, { headers: { accept: 'application/json', ...headers } });
  const asAdmin = async () => get({ authorization: `Bearer ${await issuer.mint({ claims: { scope: 'mcp:admin' } })}` });

  async function memoryServer(): Promise<Described> {
    const response = await asAdmin();
    assert.equal(response.status, 200);
    const { servers } = await response.json() as { servers: Described[] };
    assert.equal(servers.length, 1);
    return servers[0]!;
  }

  test('without a token answers 401 with the very challenge /mcp gives', async () => {
    const response = await get();
    assert.equal(response.status, 401);
    const mcp = await mcpRequest(server.mcpUrl);
    assert.equal(mcp.status, 401);
    assert.equal(response.headers.get('www-authenticate'), mcp.headers.get('www-authenticate'));
    // challenge_scopes: all (the default): every scope the built-in tools and the server's tools use.
    assert.deepEqual(parseChallenge(response.headers.get('www-authenticate')).params, { scope: 'mcp:read mcp:write mcp:admin', resource_metadata: METADATA_URL });
    assert.doesNotMatch(await response.text(), /memory/);
  });

  const refused: Array<[string, () => Promise<Record<string, string>>, number, string | undefined]> = [
    ['a Basic scheme', async () => ({ authorization: 'Basic YWRtaW46YWRtaW4=' }), 401, undefined],
    ['the scheme with no token', async () => ({ authorization: 'Bearer' }), 401, 'invalid_token'],
    ['a token that is not a JWT', async () => ({ authorization: 'Bearer not.a.jwt' }), 401, 'invalid_token'],
    ['an expired mcp:admin token', async () => ({ authorization: `Bearer ${await issuer.mint({ claims: { scope: 'mcp:admin', iat: 1_000, exp: 1_600 } })}` }), 401, 'invalid_token'],
    ['an mcp:admin token for another resource', async () => ({ authorization: `Bearer ${await issuer.mint({ claims: { scope: 'mcp:admin', aud: 'https://other.example/mcp' } })}` }), 401, 'invalid_token'],
    ['an mcp:admin token from a page on a foreign origin', async () => ({ authorization: `Bearer ${await issuer.mint({ claims: { scope: 'mcp:admin' } })}`, origin: 'https://evil.example' }), 403, undefined],
  ];
  for (const [name, headers, status, error] of refused) {
    test(`refuses ${name} with ${status}${error ? ` ${error}` : ''} and lists nothing`, async () => {
      const response = await get(await headers());
      assert.equal(response.status, status);
      if (error) assert.equal(parseChallenge(response.headers.get('www-authenticate')).params.error, error);
      assert.doesNotMatch(await response.text(), /memory/);
    });
  }

  test('a token with mcp:read and mcp:write but not mcp:admin gets 403 insufficient_scope asking for mcp:admin', async () => {
    const response = await get({ authorization: `Bearer ${await issuer.mint({ claims: { scope: 'mcp:read mcp:write' } })}` });
    assert.equal(response.status, 403);
    const challenge = parseChallenge(response.headers.get('www-authenticate'));
    assert.equal(challenge.params.error, 'insufficient_scope');
    assert.equal(challenge.params.scope, 'mcp:read mcp:write mcp:admin', 'what the token has plus what is needed');
    assert.equal(challenge.params.resource_metadata, METADATA_URL);
    const body = await response.json() as Record<string, unknown>;
    assert.equal(body.error, 'insufficient_scope');
    assert.equal(body.servers, undefined);
  });

  test('other methods get 405 with Allow', async () => {
    const response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${await issuer.mint({ claims: { scope: 'mcp:admin' } })}` } });
    assert.equal(response.status, 405);
    assert.match(response.headers.get('allow') ?? '', /GET/);
  });

  test('an mcp:admin token lists the stdio server: ready once started, its tools with their scopes after a client listed them', async () => {
    const described = await waitFor('the memory server to be ready', async () => {
      const server = await memoryServer();
      return server.state === 'ready' ? server : undefined;
    });
    assert.deepEqual({ ...described, tools: undefined }, {
      name: 'memory', transport: 'stdio', perUser: false, state: 'ready', processes: 1,
      scopes: { default: 'mcp:read', tools: { create_entities: 'mcp:write' } }, tools: undefined,
    });
    assert.equal(described.tools, undefined, 'no tools before any list');

    const { client } = await connectClient(server.mcpUrl, await issuer.mint({ claims: { scope: 'mcp:read' } }));
    try {
      const listed = await client.listTools();
      assert.ok(listed.tools.some((tool) => tool.name === 'memory__read_graph'));
    } finally {
      await client.close();
    }

    const response = await asAdmin();
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const text = await response.text();
    assert.doesNotMatch(text, /server-memory|MEMORY_FILE_PATH/, 'no command, arguments or environment');
    const tools = (JSON.parse(text) as { servers: Described[] }).servers[0]!.tools!;
    assert.deepEqual(tools.find((tool) => tool.name === 'memory__create_entities'), { name: 'memory__create_entities', scope: 'mcp:write' });
    assert.deepEqual(tools.find((tool) => tool.name === 'memory__read_graph'), { name: 'memory__read_graph', scope: 'mcp:read' });
  });
});
