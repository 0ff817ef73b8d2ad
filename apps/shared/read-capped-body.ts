/**
 * Reads a request body of at most `maxBytes`, for the endpoints that read bodies themselves (the
 * auth-server's /oauth/* and form pages, the resource-server's MCP endpoint). Each caller answers
 * an oversized body in its own shape; what they share is how it is refused:
 *
 * - Checked by Content-Length at once (nothing is read), else while streaming (no length, or a
 *   client that lies), so no more than `maxBytes` is ever held in memory.
 * - Over the cap, reading stops: the request is paused, not destroyed, and the rest of the body is
 *   left unread. The answer carries `Connection: close`, so Node closes the connection once the
 *   answer is written instead of keeping it alive behind a body nobody will read, where a client's
 *   next request on that connection would be taken for the rest of it (or wait behind it).
 * - A client that hangs up mid-body rejects with Node's own error (`aborted`/ECONNRESET), which
 *   each app's error middleware logs as a client connection error.
 *
 * Deliberately not done here: decoding (the bytes are returned as they came), any Content-Type
 * check, `Content-Encoding` (a compressed body is refused by the callers' parsers).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'koa';

/** The whole body, or undefined when it is over `maxBytes` (the response is then `Connection: close`). */
export async function readCappedBody(ctx: Context, maxBytes: number): Promise<Buffer | undefined> {
  return readCappedRequestBody(ctx.req, ctx.res, maxBytes);
}

/** readCappedBody for a handler without Koa (the resource server's MCP endpoint). */
export async function readCappedRequestBody(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<Buffer | undefined> {
  const declared = declaredLength(req);
  const body = declared !== undefined && declared > maxBytes ? undefined : await readAtMost(req, maxBytes);
  if (!body) res.setHeader('Connection', 'close');
  return body;
}

/** Content-Length as a number, as Koa's `ctx.request.length` reads it. */
function declaredLength(req: IncomingMessage): number | undefined {
  const parsed = Number.parseInt(req.headers['content-length'] ?? '', 10);
  return Number.isNaN(parsed) ? undefined : parsed;
}

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
