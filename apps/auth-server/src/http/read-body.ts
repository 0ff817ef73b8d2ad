/**
 * The auth-server's capped body reads (readCappedBody): an oversized body becomes a
 * BodyTooLargeError, which the error middleware answers 413 `invalid_request` (JSON on /oauth/*,
 * a page elsewhere).
 */
import type { Context } from 'koa';
import { readCappedBody } from '../../../shared/read-capped-body.ts';

export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
  readonly status = 413;
  readonly expose = true;
  constructor(limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}

export async function readBody(ctx: Context, limit: number): Promise<string> {
  const body = await readCappedBody(ctx, limit);
  if (!body) throw new BodyTooLargeError(limit);
  return body.toString('utf8');
}

/** Parses an application/x-www-form-urlencoded body; a repeated field keeps its first value. */
export async function readForm(ctx: Context, limit: number): Promise<Map<string, string[]>> {
  if (!ctx.is('application/x-www-form-urlencoded')) return new Map();
  const form = new Map<string, string[]>();
  for (const [key, value] of new URLSearchParams(await readBody(ctx, limit))) {
    // Appended in place: copying the list on each repeat made a field repeated n times (`a&a&…`,
    // thousands within the limit) cost n² steps, ~100 ms of the event loop per request.
    const values = form.get(key);
    if (values) values.push(value);
    else form.set(key, [value]);
  }
  return form;
}
