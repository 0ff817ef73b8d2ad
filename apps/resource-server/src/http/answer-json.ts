/**
 * Ends a response with a JSON body, as Koa answers `ctx.body = object` (status, the same
 * `Content-Type: application/json; charset=utf-8`, `Content-Length`), for the MCP endpoint's
 * steps, which answer on the Node response without Koa (mcp-request-listener.ts). Headers a step
 * set before (CORS, a challenge, `Connection: close`) are kept.
 */
import type { ServerResponse } from 'node:http';

export function answerJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}
