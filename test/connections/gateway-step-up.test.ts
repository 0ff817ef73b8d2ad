/**
 * A gateway tool's 403 step-up is recorded as the built-in tools' is (issue 18): the tool's name
 * at the gateway, the scope the server's map asks for it, and the scopes the token has. A real
 * MCP server behind the gateway (the scripted stdio fixture), a token from the test issuer, the
 * call sent as the SDK's Streamable HTTP transport sends it in its session.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { parseChallenge } from '../helpers/mcp-http.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { connectAs, rpc, waitForServers } from '../gateway/support/gateway-client.ts';
import { SCRIPTED, stdioServer } from '../gateway/support/upstreams.ts';
import { CapturedConnectionEvents } from './support/captured-connection-events.ts';

describe("a gateway tool's step-up is recorded", { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let client: Client | undefined;
  const events = new CapturedConnectionEvents();

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({
      issuer: issuer.issuer,
      connectionRecorder: events,
      config: { servers: [stdioServer('scripted', SCRIPTED, [], { scopes: { default: 'mcp:write', tools: { 'echo-meta': 'mcp:read' } } })] },
    });
    await waitForServers(server.baseUrl, { scripted: 'ready' });
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await issuer?.close();
  });

  test('scripted__add-tool (mcp:write by the server default) called with an mcp:read token: 403 as before, and a step_up naming the tool and both scopes', async () => {
    const token = await issuer.mint({ claims: { client_id: 'cursor', gid: 'grant-9', scope: 'mcp:read' } });
    const connected = await connectAs(server.mcpUrl, token);
    client = connected.client;
    const allowed = await rpc(server.mcpUrl, token, connected.transport.sessionId, 'tools/call', { name: 'scripted__echo-meta', arguments: {} });
    assert.equal(allowed.status, 200, 'a tool the token has the scope for goes through, and records no step-up');

    const response = await rpc(server.mcpUrl, token, connected.transport.sessionId, 'tools/call', { name: 'scripted__add-tool', arguments: { name: 'x' } });
    assert.equal(response.status, 403);
    const challenge = parseChallenge(response.headers.get('www-authenticate')).params;
    assert.equal(challenge.error, 'insufficient_scope');
    assert.equal(challenge.scope, 'mcp:read mcp:write');

    const stepUps = events.of('step_up');
    assert.equal(stepUps.length, 1);
    assert.equal(stepUps[0]!.reason, '`scripted__add-tool` needs `mcp:write`; the token has `mcp:read`');
    assert.equal(stepUps[0]!.clientId, 'cursor');
    assert.equal(stepUps[0]!.grantId, 'grant-9');
    assert.equal(stepUps[0]!.scope, 'mcp:read');
  });
});
