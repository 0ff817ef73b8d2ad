/**
 * An HTTP server that answers its JSON-RPC requests but never answers a POST that carries none (a
 * notification) or the DELETE of its session. The SDK's per-request timeout does not cover those,
 * so the gateway bounds them with the server's own `timeout`: a caller gets the server's error
 * in about that time instead of waiting for undici's 300 s.
 *
 * The server is a small node:http one, scripted per test through `stalls`, since a real MCP server
 * cannot be told to ignore one message.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { connectAs, errorText, waitForServers } from './support/gateway-client.ts';
import { httpServer } from './support/upstreams.ts';

interface Stalls {
  initialized: boolean;
  callFails: boolean;
  delete: boolean;
}

describe('an HTTP server that stops answering what is not a request', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let server: RunningResourceServer;
  const clients: Client[] = [];
  let stalls: Stalls = { initialized: false, callFails: false, delete: false };
  /** What the upstream got and never answered: a JSON-RPC method or an HTTP method. */
  const unanswered: string[] = [];
  let sessions = 0;

  const upstream = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const message = body ? JSON.parse(body) as { id?: number; method?: string; params?: { protocolVersion?: string } } : {};
    const what = req.method === 'POST' ? message.method ?? 'a response' : req.method!;
    const result = (value: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result: value }));
    };
    // The response stays open until the test's end closes every connection.
    const leaveUnanswered = () => void unanswered.push(what);
    switch (what) {
      case 'initialize':
        sessions += 1;
        return result({ protocolVersion: message.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'stalling', version: '1.0.0' } }, { 'mcp-session-id': `s${sessions}` });
      case 'notifications/initialized':
        return stalls.initialized ? leaveUnanswered() : res.writeHead(202).end();
      case 'tools/list':
        return result({ tools: [{ name: 'echo', inputSchema: { type: 'object' } }] });
      case 'tools/call':
        return stalls.callFails ? res.writeHead(500).end() : result({ content: [{ type: 'text', text: 'echo' }] });
      case 'GET':
        return res.writeHead(405).end();
      case 'DELETE':
        return stalls.delete ? leaveUnanswered() : res.writeHead(200).end();
      default:
        return res.writeHead(202).end();
    }
  });

  before(async () => {
    issuer = await startTestIssuer();
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`;
    server = await startResourceServer({ issuer: issuer.issuer, config: { servers: [httpServer('stalling', url, { timeout: 1 })] } });
    await waitForServers(server.baseUrl, { stalling: 'ready' });
    // The gateway learns the tool's route from a list, while the server still answers everything.
    const { client } = await connect();
    const tools = (await client.listTools()).tools.map((tool) => tool.name);
    assert.ok(tools.includes('stalling__echo'), `the tool is listed: ${tools.join(', ')}`);
  });
  after(async () => {
    // First, so that without the bound nothing below waits on a request the server holds.
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
    for (const client of clients) await client.close().catch(() => {});
    await server?.close();
    await issuer?.close();
  });

  async function connect(): Promise<{ client: Client }> {
    const token = await issuer.mint({ claims: { scope: 'mcp:read mcp:write' } });
    const { client } = await connectAs(server.mcpUrl, token);
    clients.push(client);
    return { client };
  }

  test('a session whose notifications/initialized is never answered fails the call after the server\'s timeout', { timeout: 15_000 }, async () => {
    stalls = { initialized: true, callFails: false, delete: false };
    const { client } = await connect();
    const text = errorText(await client.callTool({ name: 'stalling__echo', arguments: {} }));
    assert.match(text, /^The stalling server is unavailable: it did not answer notifications\/initialized within 1 s\.$/, 'the call fails with the timeout, naming the server');
    assert.ok(unanswered.includes('notifications/initialized'), `the server got the notification and held it: ${unanswered.join(', ')}`);
  });

  test('a DELETE that is never answered does not hold back the error reply of a failed call', { timeout: 15_000 }, async () => {
    stalls = { initialized: false, callFails: true, delete: true };
    const { client } = await connect();
    // The failed call ends its upstream session (so the next call opens a fresh one) before replying.
    const text = errorText(await client.callTool({ name: 'stalling__echo', arguments: {} }));
    assert.match(text, /^The stalling server could not be reached: it answered HTTP 500\.$/, 'the call\'s own failure is reported');
    assert.ok(unanswered.includes('DELETE'), `the server got the DELETE and held it: ${unanswered.join(', ')}`);
  });
});
