/**
 * The auth-server's capped body reads (readCappedBody): an oversized body becomes a
 * RefusedBodyError, which the error middleware answers 413 `invalid_request` (JSON on /oauth/*,
 * a page elsewhere).
 *
 * - A body with a `Content-Encoding` other than `identity` is refused with 415 and
 *   `Accept-Encoding: identity` (RFC 9110 §15.5.16, §12.5.3), the body unread. Nothing here or in
 *   oidc-provider decodes a body, so a compressed one was answered as if its parameters were
 *   missing, and a plain one labelled `gzip` was served as it came (a client registered, a token
 *   introspected), while a proxy or firewall in front that decodes by the label inspected
 *   something else. Not decoding also means no decompression bomb to cap.
 * - A `Transfer-Encoding` with a coding besides `chunked` (`gzip, chunked`): 400
 *   `invalid_request`, the body unread. Node's parser takes the chunks apart and hands on what
 *   they hold without decoding it, so such a body was served as if it had no coding, as above.
 *   RFC 9112 §6.1 suggests 501 for a transfer coding the server does not understand; a 4xx here,
 *   as the fault is the request's and a 5xx is counted as the server's failure.
 */
import type { Context } from 'koa';
import { hasContentCoding, hasTransferCoding } from '../../../shared/body-codings.ts';
import { readCappedBody } from '../../../shared/read-capped-body.ts';

/** A body refused before or while reading it; the error middleware answers `status` with `message` (expose). */
export class RefusedBodyError extends Error {
  override name = 'RefusedBodyError';
  readonly expose = true;
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

export async function readBody(ctx: Context, limit: number): Promise<string> {
  if (hasTransferCoding(ctx.get('transfer-encoding'))) {
    // Left unread, as below.
    ctx.set('Connection', 'close');
    throw new RefusedBodyError(400, 'the request body must be sent with no transfer coding but chunked');
  }
  if (hasContentCoding(ctx.get('content-encoding'))) {
    ctx.set('Accept-Encoding', 'identity');
    // The body is left unread: the connection is not kept alive behind it (read-capped-body.ts).
    ctx.set('Connection', 'close');
    throw new RefusedBodyError(415, 'the request body must be sent without a Content-Encoding');
  }
  const body = await readCappedBody(ctx, limit);
  if (!body) throw new RefusedBodyError(413, `request body exceeds ${limit} bytes`);
  return body.toString('utf8');
}

/** Parses an application/x-www-form-urlencoded body: each field with all its values, in the order sent (callers decide what a repeat means). */
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
