/**
 * Reads and parses the JSON body of a POST to the MCP endpoint, after authentication (so an
 * anonymous request costs no body read), capped at `maxBytes`: by Content-Length at once, or
 * while streaming when the client sends none or lies. The parsed value goes to
 * `ctx.state.rpcBody`, for the scope check and then for the SDK transport as its `parsedBody`.
 *
 * - Over the cap: 413. Not JSON: 400 with JSON-RPC `-32700 Parse error` (JSON-RPC 2.0 §5.1),
 *   shaped like the SDK's own errors.
 * - Anything that is not a POST with a JSON content type passes through unread, and the SDK
 *   answers it (415 for another content type).
 */
import type { IncomingMessage } from 'node:http';
import type { Context, Next, ParameterizedContext } from 'koa';
import type { JsonRpcBodyState } from './resource-server-state.ts';

export function readJsonRpcBody(maxBytes: number) {
  if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new TypeError('maxBytes must be a positive integer');

  function refuse(ctx: Context, status: number, code: number, message: string): void {
    ctx.status = status;
    ctx.body = { jsonrpc: '2.0', error: { code, message }, id: null };
  }

  return async function readJsonRpcBodyMiddleware(ctx: ParameterizedContext<JsonRpcBodyState>, next: Next): Promise<void> {
    if (ctx.method !== 'POST' || !ctx.is('application/json')) return next();

    const tooLarge = () => {
      ctx.set('Connection', 'close');
      refuse(ctx, 413, -32000, `Payload Too Large: the request body must not exceed ${maxBytes} bytes`);
    };
    const declared = ctx.request.length;
    if (declared !== undefined && declared > maxBytes) return tooLarge();
    const body = await readAtMost(ctx.req, maxBytes);
    if (!body) return tooLarge();
    try {
      ctx.state.rpcBody = JSON.parse(body.toString('utf8'));
    } catch {
      return refuse(ctx, 400, -32700, 'Parse error: the body is not valid JSON');
    }
    await next();
  };
}

/**
 * The whole body, or undefined once it passes `maxBytes`. Stops reading without destroying the
 * request (leaving a `for await` would), so the 413 still reaches the client before the connection
 * closes.
 */
function readAtMost(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes) {
        stop();
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, received));
    };
    const onError = (err: Error) => {
      stop();
      reject(err);
    };
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
