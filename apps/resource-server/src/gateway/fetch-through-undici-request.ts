/**
 * The fetch the gateway hands the MCP SDK's Streamable HTTP client transport: the request goes
 * out through undici's `request` API and comes back as a standard Response.
 *
 * Why: the gateway makes one upstream request per relayed call. Node's fetch builds a WHATWG
 * Request, Headers, an AbortController and web streams for each, and costs several times the CPU
 * of undici's `request` on the same kind of pooled keep-alive connection (bench/gateway-echo.ts
 * shows the difference per call).
 *
 * Same outcome as fetch for what the SDK's transport sends (a method, headers, a string body or
 * none, its signal) with `redirect: 'error'`, which the gateway always sets:
 * - a redirect (301, 302, 303, 307, 308) rejects with TypeError('fetch failed') caused by
 *   'unexpected redirect', so the configured headers never follow it to another host;
 * - a connection that cannot be made or breaks rejects with TypeError('fetch failed') whose cause
 *   is undici's error with its code (ECONNREFUSED, UND_ERR_SOCKET, …), as fetch's does;
 * - an aborted signal rejects with its reason, before the answer or while its body is read.
 * Any other redirect mode or body type goes to fetch itself. Not reproduced: the Fetch standard's
 * CORS (and its Sec-Fetch-Mode and Accept-Language headers), cookies, its list of blocked ports and
 * transparent decompression (no Accept-Encoding is sent, so no compressed answer is asked for) —
 * none of which a server-to-server call relies on.
 */
import { STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { request } from 'undici';

/** Fetch §2.2.3 redirect and null body statuses. */
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

export const fetchThroughUndiciRequest: FetchLike = async function fetchThroughUndiciRequest(input, init = {}) {
  const { method = 'GET', body, signal, redirect } = init;
  if (redirect !== 'error' || (body !== undefined && body !== null && typeof body !== 'string')) return fetch(input, init);
  if (signal?.aborted) throw signal.reason;

  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((value, name) => void (headers[name] = value));
  // The headers fetch adds when absent that a server may look at: a string body's type (Fetch §5
  // "extract a body"), Accept, and Node's User-Agent (some front ends refuse requests without one).
  if (typeof body === 'string' && !('content-type' in headers)) headers['content-type'] = 'text/plain;charset=UTF-8';
  headers.accept ??= '*/*';
  headers['user-agent'] ??= 'node';
  let answer: Awaited<ReturnType<typeof request>>;
  try {
    answer = await request(input, { method: method as never, headers, body: body ?? undefined, signal: signal ?? undefined });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw new TypeError('fetch failed', { cause: err });
  }

  const { statusCode, statusText, body: stream } = answer;
  if (REDIRECT_STATUSES.has(statusCode) || statusCode > 599) {
    await stream.dump().catch(() => { /* the answer is refused either way */ });
    throw new TypeError('fetch failed', { cause: new Error(statusCode > 599 ? `invalid status ${statusCode}` : 'unexpected redirect') });
  }
  const received = new Headers();
  for (const [name, value] of Object.entries(answer.headers)) {
    for (const one of Array.isArray(value) ? value : [value ?? '']) received.append(name, one);
  }
  const status = { status: statusCode, statusText: statusText || STATUS_CODES[statusCode] || '', headers: received };
  if (NULL_BODY_STATUSES.has(statusCode) || method.toUpperCase() === 'HEAD') {
    await stream.dump();
    return new Response(null, status);
  }
  return new Response(Readable.toWeb(stream) as ReadableStream<Uint8Array>, status);
};
