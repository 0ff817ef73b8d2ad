/**
 * A shortened tool name (past 64 characters with its prefix) reaches the right tool, and asks for
 * that tool's scope, on a gateway process that has not listed the server's tools yet: a fresh
 * start, or another replica than the one the client listed on.
 *
 * The short name is itself a valid-looking `<server>__<name>` of 64 characters, so reading it off
 * the name (as for unshortened names) routed the call to an upstream tool that does not exist,
 * under the server's default scope. It must be learned instead: from the config when the tool has
 * its own scope (the 403 step cannot list a server), else from the server's list. When that server
 * cannot be listed (it is down), the caller gets the error a call to it gets, not "not found"; a
 * name past 64 characters, which no list holds, is not found all the same.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { parseChallenge } from '../helpers/mcp-http.ts';
import { freePort } from '../helpers/net.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { connectAs, errorText, resultText, rpc, waitForServers } from './support/gateway-client.ts';
import { gatewayName, httpServer, LONG_TOOL_NAME, SCRIPTED, stdioServer } from './support/upstreams.ts';

describe('a shortened tool name on a gateway process that has not listed the server yet', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const clients: Client[] = [];
  const alice = { sub: randomUUID(), preferred_username: 'alice', client_id: 'claude-desktop' };
  const short = gatewayName('scripted', LONG_TOOL_NAME);
  const unscoped = gatewayName('unscoped', LONG_TOOL_NAME);
  const writeOnly = gatewayName('writeonly', LONG_TOOL_NAME);

  before(async () => {
    issuer = await startTestIssuer();
    server = await startResourceServer({
      issuer: issuer.issuer,
      config: {
        servers: [
          stdioServer('scripted', SCRIPTED, [], { scopes: { default: 'mcp:read', tools: { [LONG_TOOL_NAME]: 'mcp:write' } } }),
          stdioServer('unscoped', SCRIPTED),
          stdioServer('writeonly', SCRIPTED, [], { scopes: { default: 'mcp:write', tools: {} } }),
          httpServer('gone', `http://127.0.0.1:${await freePort()}/mcp`, { timeout: 2 }),
          { ...stdioServer('missing', SCRIPTED), command: '/nonexistent/gatehouse-test/mcp-server', args: [] },
        ],
      },
    });
    await waitForServers(server.baseUrl, { scripted: 'ready', unscoped: 'ready', writeonly: 'ready', gone: 'down', missing: 'down' });
  });
  after(async () => {
    for (const client of clients) await client.close();
    await server?.close();
    await issuer?.close();
  });

  // Runs first: nothing in this process has listed the scripted server's tools.
  test('a read-only token gets the 403 step-up asking for the tool\'s own scope (mcp:write)', { timeout: 15_000 }, async () => {
    const token = await issuer.mint({ claims: { ...alice, scope: 'mcp:read' } });
    const { client, transport } = await connectAs(server.mcpUrl, token);
    clients.push(client);
    const response = await rpc(server.mcpUrl, token, transport.sessionId, 'tools/call', { name: short, arguments: {} });
    const body = await response.text();
    assert.equal(response.status, 403, `expected the step-up challenge, got ${response.status}: ${body.slice(0, 300)}`);
    assert.match(parseChallenge(response.headers.get('www-authenticate')!).params.scope ?? '', /mcp:write/);
  });

  test('a token with the tool\'s scope reaches the tool without listing first', { timeout: 15_000 }, async () => {
    const token = await issuer.mint({ claims: { ...alice, scope: 'mcp:read mcp:write' } });
    const { client } = await connectAs(server.mcpUrl, token);
    clients.push(client);
    assert.equal(resultText(await client.callTool({ name: short, arguments: {} })), 'long name reached');
  });

  test('a tool without its own scope is found by listing its server first', { timeout: 15_000 }, async () => {
    const token = await issuer.mint({ claims: { ...alice, scope: 'mcp:read' } });
    const { client } = await connectAs(server.mcpUrl, token);
    clients.push(client);
    assert.equal(resultText(await client.callTool({ name: unscoped, arguments: {} })), 'long name reached');
  });

  // Only the check after the server is listed can refuse this one: the check before the MCP
  // server cannot route the name.
  test('a tool without its own scope, on a server whose default the token lacks, is still refused once its server is listed, and not run', { timeout: 15_000 }, async () => {
    const token = await issuer.mint({ claims: { ...alice, scope: 'mcp:read' } });
    const { client, transport } = await connectAs(server.mcpUrl, token);
    clients.push(client);
    const response = await rpc(server.mcpUrl, token, transport.sessionId, 'tools/call', { name: writeOnly, arguments: {} });
    const body = await response.text();
    assert.ok(response.status === 403 || /needs the mcp:write scope/.test(body), `refused: ${response.status} ${body}`);
    assert.doesNotMatch(body, /long name reached/, 'the server did not run it');
    await server.audit.flush();
    const [row] = await server.db.all<{ outcome: string }>('SELECT outcome FROM tool_calls WHERE tool = ?', [writeOnly]);
    assert.equal(row?.outcome, 'denied');
  });

  // Nothing can be listed from a server that is down: the name may be a tool of it or not, and
  // the caller is told what a call to that server is told (not "Tool … not found", which blamed
  // the name).
  for (const down of ['gone', 'missing']) {
    test(`a shortened tool name of the ${down} server, which is down, gets the error a call to that server gets, audited as one`, { timeout: 15_000 }, async () => {
      const token = await issuer.mint({ claims: { ...alice, scope: 'mcp:read mcp:write' } });
      const { client } = await connectAs(server.mcpUrl, token);
      clients.push(client);
      const name = gatewayName(down, LONG_TOOL_NAME);
      const plain = errorText(await client.callTool({ name: `${down}__echo`, arguments: {} }));
      const shortened = errorText(await client.callTool({ name, arguments: {} }));
      assert.match(shortened, new RegExp(`^The ${down} server is unavailable: `));
      // A stdio server's says when it is started again, which may have moved on between the calls.
      const steady = (text: string) => text.replace(/restarted in \d+ s/, 'restarted in … s');
      assert.equal(steady(shortened), steady(plain));
      await server.audit.flush();
      const [row] = await server.db.all<{ server: string; outcome: string }>('SELECT server, outcome FROM tool_calls WHERE tool = ?', [name]);
      assert.deepEqual({ ...row }, { server: down, outcome: 'error' });
    });
  }

  // Past 64 characters a name is no tool's or prompt's of any server (the gateway shortens such
  // names), so no list can route it: it is not found, whether its server is up or down, and no
  // call to that server is audited. It was given the down server's error, audited `error`.
  for (const down of ['gone', 'missing']) {
    test(`a name past 64 characters for the ${down} server, which is down, is not found and not audited`, { timeout: 15_000 }, async () => {
      const token = await issuer.mint({ claims: { ...alice, scope: 'mcp:read mcp:write' } });
      const { client } = await connectAs(server.mcpUrl, token);
      clients.push(client);
      const name = `${down}__${LONG_TOOL_NAME}`;
      assert.ok(name.length > 64);
      const notFound = (request: Promise<unknown>) => request.then(() => assert.fail(`${name} was answered`), (err: unknown) => {
        assert.ok(err instanceof McpError, String(err));
        return { code: err.code, message: err.message };
      });
      assert.deepEqual(await notFound(client.callTool({ name, arguments: {} })), { code: -32602, message: `MCP error -32602: Tool ${name} not found` });
      assert.deepEqual(await notFound(client.getPrompt({ name })), { code: -32602, message: `MCP error -32602: Prompt ${name} not found` });
      await server.audit.flush();
      assert.deepEqual(await server.db.all('SELECT outcome FROM tool_calls WHERE tool = ?', [name]), []);
    });
  }

  test('a shortened prompt name of a server that is down gets the error a prompts/get of that server gets', { timeout: 15_000 }, async () => {
    const token = await issuer.mint({ claims: { ...alice, scope: 'mcp:read mcp:write' } });
    const { client } = await connectAs(server.mcpUrl, token);
    clients.push(client);
    const refusal = (name: string) => client.getPrompt({ name }).then(() => assert.fail(`${name} was answered`), (err: unknown) => {
      assert.ok(err instanceof McpError, String(err));
      return { code: err.code, message: err.message };
    });
    const plain = await refusal('gone__greet');
    const shortened = await refusal(gatewayName('gone', LONG_TOOL_NAME));
    assert.match(shortened.message, /The gone server is unavailable: /);
    assert.deepEqual(shortened, plain);
  });
});
