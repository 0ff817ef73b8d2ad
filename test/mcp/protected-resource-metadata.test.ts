/**
 * Protected Resource Metadata (RFC 9728) and the absolute URLs the server hands out, which must
 * come from RESOURCE_URL, never from the request, so they are right behind a proxy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, useIssuerAndServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { mcpRequest, parseChallenge } from '../helpers/mcp-http.ts';

describe('protected resource metadata', () => {
  const suite = useIssuerAndServer();

  for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
    test(`serves the document at ${path}`, async () => {
      const response = await fetch(`${suite.server.baseUrl}${path}`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      const document = await response.json();
      assert.equal(document.resource, 'http://localhost:4001/mcp');
      assert.deepEqual(document.authorization_servers, [suite.issuer.issuer]);
      assert.deepEqual(document.scopes_supported, ['mcp:read', 'mcp:write', 'mcp:admin']);
      assert.deepEqual(document.bearer_methods_supported, ['header']);
    });
  }

  test('is readable from any origin', async () => {
    const response = await fetch(`${suite.server.baseUrl}/.well-known/oauth-protected-resource/mcp`, {
      headers: { Origin: 'http://localhost:6274', 'MCP-Protocol-Version': '2025-11-25' },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('access-control-allow-origin'), '*');
  });

  test('answers a CORS preflight that asks for MCP-Protocol-Version', async () => {
    const response = await fetch(`${suite.server.baseUrl}/.well-known/oauth-protected-resource/mcp`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://localhost:6274', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'mcp-protocol-version' },
    });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-origin'), '*');
    assert.match(response.headers.get('access-control-allow-headers') ?? '', /MCP-Protocol-Version/i);
  });

  test('the 401 challenge points at the path-inserted metadata URL', async () => {
    const response = await mcpRequest(suite.server.mcpUrl);
    const { params } = parseChallenge(response.headers.get('www-authenticate'));
    assert.equal(params.resource_metadata, 'http://localhost:4001/.well-known/oauth-protected-resource/mcp');
  });

  test('answers /healthz', async () => {
    const response = await fetch(`${suite.server.baseUrl}/healthz`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
  });
});

describe('behind a proxy', () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;

  before(async () => {
    issuer = await startTestIssuer('https://mcp.example.com/mcp');
    server = await startResourceServer({ issuer: issuer.issuer, config: { resource: 'https://mcp.example.com/mcp' } });
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  const spoofed = { Host: 'attacker.example', 'X-Forwarded-Host': 'attacker.example', 'X-Forwarded-Proto': 'http' };

  test('names the external URL in the challenge, whatever Host and X-Forwarded-* say', async () => {
    const response = await mcpRequest(server.mcpUrl, { headers: spoofed });
    assert.equal(response.status, 401);
    const { params } = parseChallenge(response.headers.get('www-authenticate'));
    assert.equal(params.resource_metadata, 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp');
  });

  test('names the external URL in the metadata document', async () => {
    const response = await fetch(`${server.baseUrl}/.well-known/oauth-protected-resource/mcp`, { headers: spoofed });
    assert.equal((await response.json()).resource, 'https://mcp.example.com/mcp');
  });

  test('accepts tokens issued for the external URL', async () => {
    const response = await mcpRequest(server.mcpUrl, { token: await issuer.mint() });
    assert.equal(response.status, 200);
  });
});
