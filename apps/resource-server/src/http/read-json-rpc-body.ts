/**
 * Reads and parses the JSON body of a POST to the MCP endpoint, after authentication (so an
 * anonymous request costs no body read), capped at `maxBytes` (readCappedRequestBody). The parsed
 * value is for the scope check and then for the SDK transport as its `parsedBody`.
 *
 * - Over the cap: 413. Not JSON: 400 with JSON-RPC `-32700 Parse error` (JSON-RPC 2.0 §5.1),
 *   shaped like the SDK's own errors.
 * - Anything that is not a POST with a body of type `application/json` (as Koa's
 *   `ctx.is('application/json')` judged it before) passes through unread (`rpcBody` undefined),
 *   and the SDK answers it (415 for another content type).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readCappedRequestBody } from '../../../shared/read-capped-body.ts';
import { answerJson } from './answer-json.ts';

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

    const body = await readCappedRequestBody(req, res, maxBytes);
    if (!body) return refuse(res, 413, -32000, `Payload Too Large: the request body must not exceed ${maxBytes} bytes`);
    try {
      return { rpcBody: JSON.parse(body.toString('utf8')) };
    } catch {
      return refuse(res, 400, -32700, 'Parse error: the body is not valid JSON');
    }
  };
}

/** A body is there (type-is `hasBody`: chunked or a Content-Length) and its media type is application/json. */
function isJsonBody(req: IncomingMessage): boolean {
  const { 'transfer-encoding': chunked, 'content-length': length, 'content-type': type } = req.headers;
  if (chunked === undefined && (length === undefined || Number.isNaN(Number(length)))) return false;
  return type !== undefined && type.split(';', 1)[0]!.trim().toLowerCase() === 'application/json';
}
