/**
 * `resource_server.challenge_scopes` (issue 16, point 9): with `all` (the default) the 401
 * challenge's `scope` and the PRM's `scopes_supported` name every scope a tool uses (built-in
 * tools and each gateway server's default and per-tool scopes), so a client that cannot step up
 * on 403 (anthropics/claude-code#28258, #44652; modelcontextprotocol/typescript-sdk#2255) asks
 * for everything at its first authorization. With `minimal`, the challenge names `mcp:read` and
 * the PRM every resource scope, as before. The 403 step-up answers the same either way.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ResourceServerConfig } from '../../apps/shared/config/resource-server-section.ts';
import { mcpRequest, parseChallenge } from '../helpers/mcp-http.ts';
import { startResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer } from '../helpers/test-issuer.ts';
import { httpServer } from '../gateway/support/upstreams.ts';

// Nobody listens there: the scopes come from configuration, whether the server is up or not.
const DOWN = 'http://127.0.0.1:9/mcp';
const knowledgeBase = httpServer('kb', DOWN, { scopes: { default: 'mcp:read', tools: { add_entry: 'mcp:write' } } });
const readOnly = httpServer('docs', DOWN, { scopes: { default: 'mcp:read', tools: {} } });

const cases: Array<[string, Partial<ResourceServerConfig>, string, string[]]> = [
  ['all, built-in tools', { challengeScopes: 'all' }, 'mcp:read mcp:write mcp:admin', ['mcp:read', 'mcp:write', 'mcp:admin']],
  ["all, no built-in tools, a gateway server with a per-tool mcp:write", { challengeScopes: 'all', builtInTools: false, servers: [knowledgeBase] }, 'mcp:read mcp:write', ['mcp:read', 'mcp:write']],
  ['all, no built-in tools, a read-only gateway server', { challengeScopes: 'all', builtInTools: false, servers: [readOnly] }, 'mcp:read', ['mcp:read']],
  ['all, no tools at all', { challengeScopes: 'all', builtInTools: false, servers: [] }, 'mcp:read', ['mcp:read']],
  ['minimal, built-in tools', { challengeScopes: 'minimal' }, 'mcp:read', ['mcp:read', 'mcp:write', 'mcp:admin']],
  ['minimal, a gateway server with a per-tool mcp:write', { challengeScopes: 'minimal', builtInTools: false, servers: [knowledgeBase] }, 'mcp:read', ['mcp:read', 'mcp:write', 'mcp:admin']],
];

describe('challenge_scopes: what the 401 challenge and the PRM ask for', () => {
  for (const [name, config, challengeScope, supported] of cases) {
    test(`${name}: challenge scope="${challengeScope}", scopes_supported ${supported.join(' ')}`, async () => {
      const issuer = await startTestIssuer();
      const server = await startResourceServer({ issuer: issuer.issuer, config });
      try {
        for (const url of [server.mcpUrl, `${server.baseUrl}/`]) {
          const response = await mcpRequest(url);
          assert.equal(response.status, 401, url);
          assert.equal(parseChallenge(response.headers.get('www-authenticate')).params.scope, challengeScope, url);
        }
        const metadata = await (await fetch(`${server.baseUrl}/.well-known/oauth-protected-resource/mcp`)).json() as { scopes_supported: string[]; resource: string };
        assert.deepEqual(metadata.scopes_supported, supported);
        assert.equal(metadata.resource, 'http://localhost:4001/mcp', 'the PRM resource stays exact');
      } finally {
        await server.close();
        await issuer.close();
      }
    });
  }

  for (const challengeScopes of ['all', 'minimal'] as const) {
    test(`${challengeScopes}: a read-only token calling create_note still meets the 403 step-up challenge`, async () => {
      const issuer = await startTestIssuer();
      const server = await startResourceServer({ issuer: issuer.issuer, config: { challengeScopes } });
      try {
        const response = await mcpRequest(server.mcpUrl, {
          token: await issuer.mint({ claims: { scope: 'mcp:read' } }),
          headers: { 'mcp-protocol-version': '2025-06-18' },
          body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'create_note', arguments: { title: 't' } } },
        });
        assert.equal(response.status, 403);
        const challenge = parseChallenge(response.headers.get('www-authenticate'));
        assert.equal(challenge.params.error, 'insufficient_scope');
        assert.equal(challenge.params.scope, 'mcp:read mcp:write');
      } finally {
        await server.close();
        await issuer.close();
      }
    });
  }
});
