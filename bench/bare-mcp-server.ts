/**
 * The baseline for the MCP benchmark: what a user would run without Gatehouse — a bare MCP SDK
 * server, written as the SDK's README shows (McpServer, Streamable HTTP on node:http, one
 * transport per session, the SDK's default response mode), with no authentication at all and the
 * same `whoami` tool shape (zod input and output schemas, structured content) answering a fixed
 * caller.
 *
 * Run alone: npx tsx bench/bare-mcp-server.ts [port]   (prints {"mcpUrl": …})
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';

function buildServer(): McpServer {
  const server = new McpServer({ name: 'bare', version: '1.0.0' });
  server.registerTool('whoami', {
    description: 'Who this connection acts for.',
    inputSchema: {},
    outputSchema: { subject: z.string(), client_id: z.string(), scopes: z.array(z.string()), expires_at: z.string() },
  }, () => {
    const output = { subject: 'bench-user', client_id: 'bench-client', scopes: ['mcp:read'], expires_at: new Date(0).toISOString() };
    return { content: [{ type: 'text', text: JSON.stringify(output) }], structuredContent: output };
  });
  return server;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

export async function startBareMcpServer(port = 0): Promise<{ mcpUrl: string; close(): Promise<void> }> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const http: Server = createServer(async (req, res) => {
    const sessionId = req.headers['mcp-session-id'];
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    let transport = typeof sessionId === 'string' ? transports.get(sessionId) : undefined;
    if (!transport && isInitializeRequest(body)) {
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        onsessioninitialized: (id) => void transports.set(id, transport!),
      });
      transport.onclose = () => void (transport!.sessionId && transports.delete(transport!.sessionId));
      await buildServer().connect(transport);
    }
    if (!transport) return void res.writeHead(400).end();
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  return {
    mcpUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    async close() {
      for (const transport of transports.values()) await transport.close();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { mcpUrl, close } = await startBareMcpServer(Number(process.argv[2] ?? 0));
  // A clean exit on SIGTERM, so that a CPU profile (--cpu-prof) is written.
  process.once('SIGTERM', () => void close().finally(() => process.exit(0)));
  console.log(JSON.stringify({ mcpUrl }));
}
