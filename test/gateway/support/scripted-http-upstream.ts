/**
 * A Streamable HTTP MCP server scripted by a test, for behaviour a real server would not show on
 * demand (holding a request, answering 503, keeping a stream open): node:http, one request at a
 * time handed to `script` with the JSON-RPC message read and a way to answer it in JSON.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';

export interface ScriptedRequest {
  /** The JSON-RPC method of a POST (`a response` for one without), or the HTTP method (GET, DELETE). */
  what: string;
  message: { id?: number; method?: string; params?: { protocolVersion?: string } };
  /** The Mcp-Session-Id it came with, or ''. */
  session: string;
  res: ServerResponse;
  /** Answers 200 with the JSON-RPC response `{ jsonrpc, id, ...value }`. */
  answer(value: Record<string, unknown>, headers?: Record<string, string>): void;
}

export function scriptedHttpUpstream(script: (request: ScriptedRequest) => void): Server {
  return createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const message = body ? JSON.parse(body) as ScriptedRequest['message'] : {};
    const what = req.method === 'POST' ? message.method ?? 'a response' : req.method!;
    script({
      what,
      message,
      session: String(req.headers['mcp-session-id'] ?? ''),
      res,
      answer(value, headers = {}) {
        res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ jsonrpc: '2.0', id: message.id, ...value }));
      },
    });
  });
}
