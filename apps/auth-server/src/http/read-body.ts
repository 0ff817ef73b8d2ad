/**
 * Reads a request body into a string, refusing more than `limit` bytes (by Content-Length at
 * once, or while streaming when the client sends none or lies).
 *
 * A refused body is left unread, so the answer closes the connection: kept alive, Node would
 * first read and discard the rest of the body (however large it was declared), and a client that
 * stopped sending a chunked body would have its next request on that connection taken for body
 * bytes and hang until the socket times out.
 */
import type { Context } from 'koa';

export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
  readonly status = 413;
  readonly expose = true;
  constructor(limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}

function tooLarge(ctx: Context, limit: number): BodyTooLargeError {
  ctx.set('Connection', 'close');
  return new BodyTooLargeError(limit);
}

export async function readBody(ctx: Context, limit: number): Promise<string> {
  const declared = ctx.request.length;
  if (declared !== undefined && declared > limit) throw tooLarge(ctx, limit);
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of ctx.req) {
    received += (chunk as Buffer).length;
    if (received > limit) throw tooLarge(ctx, limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, received).toString('utf8');
}

/** Parses an application/x-www-form-urlencoded body; a repeated field keeps its first value. */
export async function readForm(ctx: Context, limit: number): Promise<Map<string, string[]>> {
  if (!ctx.is('application/x-www-form-urlencoded')) return new Map();
  const form = new Map<string, string[]>();
  for (const [key, value] of new URLSearchParams(await readBody(ctx, limit))) {
    form.set(key, [...(form.get(key) ?? []), value]);
  }
  return form;
}
