/**
 * Hands an authenticated request to the MCP SDK's Streamable HTTP transport for its session.
 *
 * - With `Mcp-Session-Id`: the session must exist (on any replica) and belong to the token's
 *   subject; otherwise 404 (MCP 2025-11-25 transports §Session Management: the client then starts
 *   a new session).
 * - Without: a fresh transport, which opens a session if the request is `initialize` and answers
 *   400 otherwise.
 * - Everything else is the SDK's: Accept and Content-Type checks, JSON-RPC validation, the 400 for
 *   an unsupported `MCP-Protocol-Version`, 405 for other methods, DELETE ending a session.
 *
 * Koa steps aside (`ctx.respond = false`) because the transport writes the Node response itself.
 */
import type { IncomingMessage } from 'node:http';
import type { ParameterizedContext } from 'koa';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { coalesceWrites } from './coalesce-writes.ts';
import type { Logger } from '../../../shared/logger.ts';
import type { McpSessions } from '../mcp/mcp-sessions.ts';
import type { McpRequestState } from './resource-server-state.ts';

export function serveMcpRequest(sessions: McpSessions, logger: Logger) {
  return async function serveMcpRequestMiddleware(ctx: ParameterizedContext<McpRequestState>): Promise<void> {
    const { auth } = ctx.state;
    const sessionId = ctx.get('mcp-session-id');

    let transport;
    let discard: (() => Promise<void>) | undefined;
    if (sessionId) {
      transport = (await sessions.find(sessionId, auth.extra.subject))?.transport;
      if (!transport) {
        ctx.status = 404;
        ctx.body = { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null };
        return;
      }
    } else {
      ({ transport, discard } = await sessions.start(auth.extra.subject, ctx.state.rpcBody));
    }

    // The transport reads the caller from `req.auth` and passes it to tool handlers as `authInfo`.
    (ctx.req as IncomingMessage & { auth?: AuthInfo }).auth = auth;
    ctx.respond = false;
    coalesceWrites(ctx.res);
    try {
      await transport.handleRequest(ctx.req, ctx.res, ctx.state.rpcBody);
    } catch (err) {
      logger.error({ err }, 'mcp transport failed');
      if (!ctx.res.headersSent) {
        ctx.res.writeHead(500, { 'Content-Type': 'application/json' });
        ctx.res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal error' }, id: null }));
      } else {
        ctx.res.destroy();
      }
    } finally {
      await discard?.();
    }
  };
}
