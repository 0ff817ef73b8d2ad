/**
 * An MCP server that quotes back the credentials the gateway sends it (its configured headers, a
 * stdio server's `env`), as servers do in "invalid API key …" errors, does not hand them to
 * callers, to the log or to the admin's servers list, nor the identity token it is sent for a caller: a review reproduced a caller with plain
 * mcp:read reading the gateway's bearer token for a server, and a stdio server's API key, in the
 * tool errors the gateway wrote, and both in its warnings and GET /gateway/servers. Real servers:
 * two scripted Streamable HTTP servers and a stdio process.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createLogger } from '../../apps/shared/logger.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { connectAs, errorText, rpc, waitForServers } from './support/gateway-client.ts';
import { scriptedHttpUpstream } from './support/scripted-http-upstream.ts';
import { ECHOING_CREDENTIALS, httpServer, stdioServer, THROWING_TOOL } from './support/upstreams.ts';

const BEARER = 'upstream-bearer-0123456789abcdef';
const API_KEY_HEADER = 'header-api-key-9876543210';
const STDIO_API_KEY = 'stdio-env-api-key-13579';
/** The identity token a forward_identity server is sent (from a stand-in for the token exchange). */
const IDENTITY_TOKEN = 'identity-token-for-the-caller-24680';
const SECRETS = [BEARER, API_KEY_HEADER, STDIO_API_KEY, IDENTITY_TOKEN];

/** What a server that echoes its request's credentials writes: the whole header, and the bare token. */
function echo(headers: Record<string, string | string[] | undefined>): { message: string; data: unknown } {
  const authorization = String(headers.authorization);
  return {
    message: `you sent authorization=${authorization}, token ${authorization.split(' ')[1]}, x-api-key=${String(headers['x-api-key'])}`,
    data: { received: { authorization, 'x-api-key': headers['x-api-key'] } },
  };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`)));
}

describe('an MCP server quoting back the credentials the gateway sends it', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let client: Client;
  let token: string;
  let sessionId: string;
  const upstreams: Server[] = [];
  const logLines: string[] = [];

  before(async () => {
    issuer = await startTestIssuer();
    // Refuses initialize, quoting what it was sent.
    const refusingServer = () => scriptedHttpUpstream((request) => {
      if (request.what === 'initialize') request.answer({ error: { code: -32001, ...echo(request.res.req.headers) } });
      else request.res.writeHead(405).end();
    });
    const [refusing, forwarding] = [refusingServer(), refusingServer()];
    // Starts, lists one tool, and refuses its call the same way.
    const calling = scriptedHttpUpstream((request) => {
      const { what, message } = request;
      if (what === 'initialize') {
        request.answer({ result: { protocolVersion: message.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'echoing', version: '1' } } });
      } else if (what === 'tools/list') {
        request.answer({ result: { tools: [{ name: 'leak', inputSchema: { type: 'object' } }] } });
      } else if (what === 'tools/call') {
        request.answer({ error: { code: -32603, ...echo(request.res.req.headers) } });
      } else request.res.writeHead(what === 'GET' ? 405 : 202).end();
    });
    upstreams.push(refusing, forwarding, calling);
    const headers = { Authorization: `Bearer ${BEARER}`, 'X-Api-Key': API_KEY_HEADER };
    const logger = createLogger('resource-server', 'debug', { write: (line: string) => void logLines.push(line) });
    server = await startResourceServer({
      issuer: issuer.issuer,
      logger,
      identity: { tokenFor: async () => IDENTITY_TOKEN },
      config: {
        servers: [
          httpServer('refusing', await listen(refusing), { headers }),
          httpServer('calling', await listen(calling), { headers }),
          httpServer('forwarding', await listen(forwarding), { forwardIdentity: true }),
          stdioServer('stdio', ECHOING_CREDENTIALS, [], { env: { API_KEY: STDIO_API_KEY } }),
          stdioServer('throwing', THROWING_TOOL, [], { env: { API_KEY: STDIO_API_KEY } }),
        ],
      },
    });
    await waitForServers(server.baseUrl, { refusing: 'down', calling: 'ready', stdio: 'down', forwarding: 'down', throwing: 'ready' });
    token = await issuer.mint({ claims: { scope: 'mcp:read mcp:write' } });
    const connected = await connectAs(server.mcpUrl, token);
    client = connected.client;
    sessionId = (connected.transport as StreamableHTTPClientTransport).sessionId!;
  });
  after(async () => {
    await client?.close();
    await server?.close();
    for (const upstream of upstreams) upstream.close();
    await issuer?.close();
  });

  function assertHidden(what: string, text: string) {
    for (const secret of SECRETS) assert.ok(!text.includes(secret), `${what} holds a credential: ${text}`);
  }

  test('a call the server refuses is a tool error quoting it without the credentials', async () => {
    const text = errorText(await client.callTool({ name: 'calling__leak', arguments: {} }));
    assert.match(text, /The calling server refused the call: you sent authorization=\[redacted\], token \[redacted\], x-api-key=\[redacted\]/);
    const raw = await (await rpc(server.mcpUrl, token, sessionId, 'tools/call', { name: 'calling__leak', arguments: {} })).text();
    assert.match(raw, /refused the call/);
    assertHidden('the raw answer', raw);
  });

  test('a tool that throws on an MCP SDK server (a result with isError) is quoted without them', async () => {
    const result = await client.callTool({ name: 'throwing__search', arguments: {} });
    assert.equal(result.isError, true);
    assert.match(errorText(result), /401 Unauthorized: invalid API key \[redacted\]/);
    assertHidden('the tool error', JSON.stringify(result));
  });

  test('a server that refuses to start is reported unavailable without them, HTTP or stdio', async () => {
    const refusing = errorText(await client.callTool({ name: 'refusing__anything', arguments: {} }));
    assert.match(refusing, /The refusing server is unavailable: .*authorization=\[redacted\]/);
    assertHidden('the refusing server\'s error', refusing);
    const forwarding = errorText(await client.callTool({ name: 'forwarding__anything', arguments: {} }));
    assert.match(forwarding, /The forwarding server is unavailable: .*authorization=Bearer \[redacted\], token \[redacted\]/);
    assertHidden('the forwarding server\'s error', forwarding);
    const stdio = errorText(await client.callTool({ name: 'stdio__anything', arguments: {} }));
    assert.match(stdio, /The stdio server is unavailable: it failed to start: .*API_KEY=\[redacted\]/);
    assertHidden('the stdio server\'s error', stdio);
  });

  test('the admin\'s servers list gives each reason without them', async () => {
    const admin = await issuer.mint({ claims: { scope: 'mcp:admin' } });
    const response = await fetch(`${server.baseUrl}/gateway/servers`, { headers: { authorization: `Bearer ${admin}`, accept: 'application/json' } });
    assert.equal(response.status, 200);
    const body = await response.text();
    const { servers } = JSON.parse(body) as { servers: Array<{ name: string; reason?: string }> };
    assert.match(servers.find((s) => s.name === 'refusing')?.reason ?? '', /\[redacted\]/);
    assert.match(servers.find((s) => s.name === 'stdio')?.reason ?? '', /\[redacted\]/);
    assertHidden('GET /gateway/servers', body);
  });

  test('the log quotes the servers (their stderr too) without them', async () => {
    await waitFor('the stdio server\'s stderr line', () => logLines.some((line) => line.includes('starting with API_KEY=')));
    const log = logLines.join('');
    assert.match(log, /starting with API_KEY=\[redacted\]/);
    assert.ok(logLines.some((line) => line.includes('"server":"refusing"') && line.includes('authorization=[redacted]')), 'the refusing server\'s reason is logged');
    assertHidden('the log', log);
  });
});
