/**
 * A Streamable HTTP server behind the gateway (issue 12, behaviours 3 and 6), seen from the
 * server's side with a recording upstream (a real MCP SDK server that records every request):
 * - it gets its configured `headers` on every request, and never the caller's access token or
 *   cookies (MCP security best practices: no token passthrough);
 * - each client session has its own upstream session, and closing the client session (DELETE)
 *   closes it upstream;
 * - a redirect from the server is not followed, so its credentials cannot be sent elsewhere;
 * - server-everything in its HTTP mode works through the gateway.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { connectAs, errorText, resultText, waitForServers } from './support/gateway-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { startRecordingUpstream, type RecordingUpstream } from './support/recording-upstream.ts';
import { startEverythingHttp, type RunningHttpUpstream } from './support/start-everything-http.ts';
import { httpServer } from './support/upstreams.ts';

const API_KEY = 'upstream-own-credential';
const CALLER_COOKIE = 'gatehouse_session=caller-cookie-value';

describe('an HTTP server behind the gateway', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  let recording: RecordingUpstream;
  let everything: RunningHttpUpstream;
  let bouncer: Server;
  const clients: Client[] = [];

  before(async () => {
    issuer = await startTestIssuer();
    recording = await startRecordingUpstream();
    everything = await startEverythingHttp();
    // Sends every request on to the recording upstream, as a hijacked or misconfigured server might.
    bouncer = createServer((_req, res) => void res.writeHead(307, { Location: recording.url }).end());
    await new Promise<void>((resolve) => bouncer.listen(0, '127.0.0.1', resolve));
    const bouncerUrl = `http://127.0.0.1:${(bouncer.address() as AddressInfo).port}/mcp`;
    server = await startResourceServer({
      issuer: issuer.issuer,
      config: {
        servers: [
          httpServer('rec', recording.url, { headers: { 'X-Api-Key': API_KEY, 'X-Tenant': 'acme' } }),
          httpServer('remote', everything.url),
          httpServer('bouncer', bouncerUrl, { headers: { 'X-Api-Key': 'bouncer-secret' } }),
        ],
      },
    });
    await waitForServers(server.baseUrl, { rec: 'ready', remote: 'ready', bouncer: 'down' });
  });
  after(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await server?.close();
    await recording?.close();
    await everything?.close();
    await new Promise((resolve) => bouncer?.close(resolve));
    await issuer?.close();
  });

  async function connect(): Promise<{ client: Client; transport: StreamableHTTPClientTransport; token: string }> {
    const token = await issuer.mint({ claims: { scope: 'mcp:read mcp:write' } });
    const connected = await connectAs(server.mcpUrl, token, { headers: { Cookie: CALLER_COOKIE } });
    clients.push(connected.client);
    return { ...connected, token };
  }

  async function echo(client: Client, text: string): Promise<{ text: string; session: string }> {
    const result = await client.callTool({ name: 'rec__echo', arguments: { text } });
    assert.equal(resultText(result), text);
    return result.structuredContent as { text: string; session: string };
  }

  test('the server gets its configured headers and never the caller\'s token or cookies', { timeout: 15_000 }, async () => {
    const { client, token } = await connect();
    const from = recording.requests.length;
    await echo(client, 'hello');
    const seen = recording.requests.slice(from);
    assert.ok(seen.some((request) => request.rpcMethods.includes('tools/call')), 'the call reached the server');
    for (const request of recording.requests) {
      assert.equal(request.headers['x-api-key'], API_KEY, `${request.method} ${request.rpcMethods.join(',')} carries the configured header`);
      assert.equal(request.headers['x-tenant'], 'acme');
      assert.equal(request.headers.authorization, undefined, 'no Authorization header without forward_identity');
      assert.equal(request.headers.cookie, undefined, 'no cookies');
      const everyValue = JSON.stringify(request.headers);
      assert.ok(!everyValue.includes(token), 'the caller\'s token is nowhere in the headers');
      assert.ok(!everyValue.includes('caller-cookie-value'), 'the caller\'s cookie is nowhere in the headers');
    }
  });

  test('each client session gets its own upstream session, used for all its calls', { timeout: 15_000 }, async () => {
    const first = await connect();
    const second = await connect();
    const a1 = await echo(first.client, 'a1');
    const b1 = await echo(second.client, 'b1');
    const a2 = await echo(first.client, 'a2');
    assert.ok(a1.session && b1.session);
    assert.notEqual(a1.session, b1.session, 'two client sessions, two upstream sessions');
    assert.equal(a2.session, a1.session, 'one client session keeps its upstream session');
    assert.ok(recording.opened.includes(a1.session) && recording.opened.includes(b1.session));
  });

  test('closing the client session (DELETE) closes its upstream session', { timeout: 15_000 }, async () => {
    const { client, transport } = await connect();
    const { session } = await echo(client, 'bye');
    assert.ok(!recording.closed.includes(session));
    await transport.terminateSession();
    await waitFor('the upstream session to be closed', () => recording.closed.includes(session), 5000);
    const deletes = recording.requests.filter((request) => request.method === 'DELETE' && request.headers['mcp-session-id'] === session);
    assert.equal(deletes.length, 1, 'the gateway sent DELETE for that session');
    const survivor = await connect();
    await echo(survivor.client, 'others unaffected');
  });

  test('server-everything in its Streamable HTTP mode answers through the gateway', { timeout: 15_000 }, async () => {
    const { client } = await connect();
    assert.equal(resultText(await client.callTool({ name: 'remote__echo', arguments: { message: 'over http' } })), 'Echo: over http');
    assert.match(resultText(await client.callTool({ name: 'remote__get-sum', arguments: { a: 1, b: 2 } })), /is 3\./);
    const prompts = (await client.listPrompts()).prompts.map((prompt) => prompt.name);
    assert.ok(prompts.includes('remote__simple-prompt'));
  });

  test('a redirect from a server is not followed: its credentials and the call go nowhere else', { timeout: 15_000 }, async () => {
    const { client } = await connect();
    assert.match(errorText(await client.callTool({ name: 'bouncer__echo', arguments: { text: 'x' } })), /The bouncer server/);
    assert.ok(!recording.requests.some((request) => request.headers['x-api-key'] === 'bouncer-secret'), 'the redirect target never saw the bouncer\'s key');
  });
});
