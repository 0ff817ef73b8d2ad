/**
 * Reads and parses the JSON body of a POST to the MCP endpoint, after authentication (so an
 * anonymous request costs no body read), capped at `maxBytes` (readCappedBody). The parsed value
 * goes to `ctx.state.rpcBody`, for the scope check and then for the SDK transport as its
 * `parsedBody`.
 *
 * - Over the cap: 413. Not JSON: 400 with JSON-RPC `-32700 Parse error` (JSON-RPC 2.0 §5.1),
 *   shaped like the SDK's own errors.
 * - Anything that is not a POST with a JSON content type passes through unread, and the SDK
 *   answers it (415 for another content type).
 */
import type { Context, Next, ParameterizedContext } from 'koa';
import { readCappedBody } from '../../../shared/read-capped-body.ts';
import type { JsonRpcBodyState } from './resource-server-state.ts';

export function readJsonRpcBody(maxBytes: number) {
  if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new TypeError('maxBytes must be a positive integer');

  function refuse(ctx: Context, status: number, code: number, message: string): void {
    ctx.status = status;
    ctx.body = { jsonrpc: '2.0', error: { code, message }, id: null };
  }

  return async function readJsonRpcBodyMiddleware(ctx: ParameterizedContext<JsonRpcBodyState>, next: Next): Promise<void> {
    if (ctx.method !== 'POST' || !ctx.is('application/json')) return next();

    const body = await readCappedBody(ctx, maxBytes);
    if (!body) return refuse(ctx, 413, -32000, `Payload Too Large: the request body must not exceed ${maxBytes} bytes`);
    try {
      ctx.state.rpcBody = JSON.parse(body.toString('utf8'));
    } catch {
      return refuse(ctx, 400, -32700, 'Parse error: the body is not valid JSON');
    }
    await next();
  };
}

