/**
 * A real Streamable HTTP MCP server (the MCP SDK's McpServer and StreamableHTTPServerTransport on
 * node:http, one session per initialize) that records the method, headers and JSON-RPC methods
 * of every request it gets, which sessions were opened and closed, and which POSTs the client
 * closed before their answer ended. What the gateway sends upstream is read from here, so a test
 * can prove what never arrives (the caller's token, cookies) and what is not left open. A test may
 * hold each `initialize` until it says so (`beforeInitialize`), to have calls wait for the
 * gateway's upstream session to open. Its tool
 * `echo` answers with the session it ran in; `wait-for-cancel` sends one progress notification
 * (when asked for progress) and runs until it is cancelled (at most 30 s), never answering then,
 * as the SDK's server does not answer a cancelled request: its POST stays open until the client
 * closes it. It also has a prompt, `greet`, and a resource, RECORDED_RESOURCE.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import * as z from 'zod';

export interface RecordedRequest {
  method: string;
  headers: IncomingHttpHeaders;
  /** JSON-RPC methods in a POST body (a batch gives several). */
  rpcMethods: string[];
  /** The JSON-RPC messages of a POST body, as parsed. */
  messages: Array<{ method?: unknown; params?: unknown }>;
}

export interface RecordingUpstreamOptions {
  /** Awaited before each `initialize` is answered (recorded already). Default: none. */
  beforeInitialize?: () => Promise<void>;
}

export interface RecordingUpstream {
  url: string;
  requests: RecordedRequest[];
  /** Session ids, in the order the sessions were initialized. */
  opened: string[];
  /** Session ids whose session was closed (DELETE, or the transport closing). */
  closed: string[];
  /** JSON-RPC methods of the POSTs whose connection the client closed before their answer ended. */
  abandoned: string[];
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export const RECORDED_RESOURCE = 'note://recording-upstream/readme';

function newSession(): McpServer {
  const server = new McpServer({ name: 'recording-upstream', version: '1.0.0' });
  server.registerTool('echo', {
    description: 'Echoes its text, with the upstream session it ran in.',
    inputSchema: { text: z.string() },
    outputSchema: { text: z.string(), session: z.string() },
  }, async ({ text }, extra) => ({
    content: [{ type: 'text', text }],
    structuredContent: { text, session: extra.sessionId ?? '' },
  }));
  server.registerTool('wait-for-cancel', {
    description: 'Runs until it is cancelled (at most 30 s); one progress notification says it started.',
    inputSchema: {},
  }, async (_args, extra) => {
    const progressToken = extra._meta?.progressToken;
    if (progressToken !== undefined) {
      await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: 1, message: 'waiting for cancel' } });
    }
    await new Promise<void>((resolve) => {
      const limit = setTimeout(resolve, 30_000);
      extra.signal.addEventListener('abort', () => {
        clearTimeout(limit);
        resolve();
      }, { once: true });
    });
    return { content: [{ type: 'text', text: 'not cancelled' }] };
  });
  server.registerPrompt('greet', { description: 'A greeting.' }, () => ({
    messages: [{ role: 'user', content: { type: 'text', text: 'Hello.' } }],
  }));
  server.registerResource('readme', RECORDED_RESOURCE, { mimeType: 'text/plain' }, (uri) => ({
    contents: [{ uri: uri.href, text: 'A resource of the recording upstream.' }],
  }));
  return server;
}

/** Listens on `port` (default: any free one), e.g. one a gateway was configured with before it started. */
export async function startRecordingUpstream(port = 0, { beforeInitialize }: RecordingUpstreamOptions = {}): Promise<RecordingUpstream> {
  const requests: RecordedRequest[] = [];
  const opened: string[] = [];
  const closed: string[] = [];
  const abandoned: string[] = [];
  const transports = new Map<string, StreamableHTTPServerTransport>();

  const http = createServer(async (req, res) => {
    try {
      const body = req.method === 'POST' ? await readBody(req) : '';
      let parsed: unknown;
      try {
        parsed = body ? JSON.parse(body) : undefined;
      } catch {
        parsed = undefined;
      }
      const messages = (Array.isArray(parsed) ? parsed : parsed ? [parsed] : []) as Array<{ method?: unknown; params?: unknown }>;
      const rpcMethods = messages.flatMap((m) => (typeof m.method === 'string' ? [m.method] : []));
      requests.push({ method: req.method ?? '', headers: req.headers, rpcMethods, messages });
      if (beforeInitialize && rpcMethods.includes('initialize')) await beforeInitialize();
      if (req.method === 'POST') {
        res.once('close', () => {
          if (!res.writableEnded) abandoned.push(...rpcMethods);
        });
      }

      const sessionId = req.headers['mcp-session-id'];
      let transport = typeof sessionId === 'string' ? transports.get(sessionId) : undefined;
      if (!transport) {
        if (typeof sessionId === 'string' || !messages.some((m) => m.method === 'initialize')) {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
          return;
        }
        const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => {
            opened.push(id);
            transports.set(id, created);
          },
        });
        created.onclose = () => {
          if (created.sessionId && transports.delete(created.sessionId)) closed.push(created.sessionId);
        };
        await newSession().connect(created);
        transport = created;
      }
      await transport.handleRequest(req, res, parsed);
    } catch {
      if (!res.headersSent) res.writeHead(500).end();
    }
  });
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  return {
    url,
    requests,
    opened,
    closed,
    abandoned,
    async close() {
      for (const transport of transports.values()) await transport.close();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}
