/**
 * Reads and parses the JSON body of a POST to the MCP endpoint, after authentication (so an
 * anonymous request costs no body read), capped at `maxBytes` (readCappedRequestBody). The parsed
 * value is for the scope check and then for the SDK transport as its `parsedBody`.
 *
 * - Over the cap: 413. Not JSON: 400 with JSON-RPC `-32700 Parse error` (JSON-RPC 2.0 §5.1),
 *   shaped like the SDK's own errors.
 * - A batch of more than MAX_BATCH_MESSAGES: 400 with `-32600 Invalid Request`.
 * - Arrays and objects nested more than MAX_JSON_DEPTH deep: 400 with `-32600 Invalid Request`,
 *   before parsing. JSON.parse reads any depth, but what is done with the value later recurses
 *   (JSON.stringify storing a session's initialize, schema checks, forwarding to an upstream), and
 *   some 40,000 levels fit in the body cap: the stack overflowed, and the caller got a 500.
 * - A body with a `Content-Encoding` other than `identity`: 415 with `Accept-Encoding: identity`
 *   (RFC 9110 §15.5.16, §12.5.3), unread. Nothing here decodes, so a compressed body was answered
 *   "not valid JSON", and a plain one labelled `gzip` was served as it came, while a proxy or
 *   firewall in front that decodes by the label inspected something else.
 * - A `Transfer-Encoding` with a coding besides `chunked` (`gzip, chunked`): 400, unread, for the
 *   same reason: Node takes the chunks apart and hands on what they hold undecoded. (RFC 9112 §6.1
 *   suggests 501; the fault is the request's, and a 5xx is counted as the server's.)
 * - Anything that is not a POST with a body of type `application/json` (as Koa's
 *   `ctx.is('application/json')` judged it before) passes through unread (`rpcBody` undefined),
 *   and the SDK answers it (415 for another content type).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hasContentCoding, hasTransferCoding } from '../../../shared/body-codings.ts';
import { readCappedRequestBody } from '../../../shared/read-capped-body.ts';
import { answerJson } from './answer-json.ts';

/**
 * Deepest nesting of arrays and objects a body may have: serde_json's default recursion limit, so
 * whatever passes here a Rust MCP server behind the gateway reads too. No MCP message comes near.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * Most messages a JSON-RPC batch may hold: the MCP SDK transport's own limit (MAX_BATCH_SIZE, in
 * the same words), applied here before the scope check, which records a refused call for each
 * tool call in a batch: a 256 KiB batch of some 1,800 calls to names a caller made up wrote 1,800
 * audit rows, though the transport would have served none of them.
 */
export const MAX_BATCH_MESSAGES = 100;

/** The parsed body (undefined when there is none to read), or undefined once the request has been answered. */
export type ReadJsonRpcBody = (req: IncomingMessage, res: ServerResponse) => Promise<{ rpcBody: unknown } | undefined>;

export function readJsonRpcBody(maxBytes: number): ReadJsonRpcBody {
  if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new TypeError('maxBytes must be a positive integer');

  function refuse(res: ServerResponse, status: number, code: number, message: string): undefined {
    answerJson(res, status, { jsonrpc: '2.0', error: { code, message }, id: null });
    return undefined;
  }

  return async function readJsonRpcBodyStep(req, res) {
    if (req.method !== 'POST' || !isJsonBody(req)) return { rpcBody: undefined };
    if (hasTransferCoding(req.headers['transfer-encoding'])) {
      // Left unread, as below.
      res.setHeader('Connection', 'close');
      return refuse(res, 400, -32000, 'Bad Request: the body must be sent with no transfer coding but chunked');
    }
    if (hasContentCoding(req.headers['content-encoding'])) {
      res.setHeader('Accept-Encoding', 'identity');
      // The body is left unread: the connection is not kept alive behind it (read-capped-body.ts).
      res.setHeader('Connection', 'close');
      return refuse(res, 415, -32000, 'Unsupported Media Type: the body must be sent without a Content-Encoding');
    }

    const body = await readCappedRequestBody(req, res, maxBytes);
    if (!body) return refuse(res, 413, -32000, `Payload Too Large: the request body must not exceed ${maxBytes} bytes`);
    const text = body.toString('utf8');
    if (nestedTooDeep(text)) return refuse(res, 400, -32600, `Invalid Request: the body is nested more than ${MAX_JSON_DEPTH} levels deep`);
    let rpcBody: unknown;
    try {
      rpcBody = JSON.parse(text);
    } catch {
      return refuse(res, 400, -32700, 'Parse error: the body is not valid JSON');
    }
    if (Array.isArray(rpcBody) && rpcBody.length > MAX_BATCH_MESSAGES) return refuse(res, 400, -32600, `Invalid Request: Batch must not exceed ${MAX_BATCH_MESSAGES} messages`);
    return { rpcBody };
  };
}

/** A body is there (type-is `hasBody`: chunked or a Content-Length) and its media type is application/json. */
function isJsonBody(req: IncomingMessage): boolean {
  const { 'transfer-encoding': chunked, 'content-length': length, 'content-type': type } = req.headers;
  if (chunked === undefined && (length === undefined || Number.isNaN(Number(length)))) return false;
  return type !== undefined && type.split(';', 1)[0]!.trim().toLowerCase() === 'application/json';
}

/**
 * Whether JSON text opens more than MAX_JSON_DEPTH arrays or objects at once (brackets inside
 * strings do not count). A loop, not a recursive parse; text too short to reach the limit is not
 * scanned, which is every ordinary tool call.
 */
function nestedTooDeep(text: string): boolean {
  if (text.length <= 2 * MAX_JSON_DEPTH) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // \ escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
