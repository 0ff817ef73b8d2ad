/**
 * A fetch for the MCP SDK's Streamable HTTP client transport that gives each request an
 * AbortSignal of its own, linked to the one the transport passes only while that request and
 * its response body are in flight.
 *
 * Why: the transport passes one AbortSignal to every request of a session (aborted when the
 * transport closes). Node's fetch (undici) adds an abort listener to the signal it is given and
 * removes it only when the request is garbage-collected, so a gateway session that relays many
 * calls piles thousands of listeners on that one signal: memory, a linear scan on every add, and
 * past 1500 a MaxListenersExceededWarning written to stderr on every call.
 *
 * - Aborting the transport's signal still aborts every request in flight, including a response
 *   body still being read (an SSE answer, the long-lived GET stream), as before.
 * - The link is dropped when the body has been read to its end, fails or is cancelled, or at once
 *   when the response has no body; a request whose signal is already aborted is refused as fetch
 *   would refuse it.
 * - It does not add a timeout or retry; the SDK's request timeout still applies above it.
 */
import { setMaxListeners } from 'node:events';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';

/** Fetch §2.2.3 null body statuses: a Response with one of them cannot be given a body. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

export function isolateAbortSignals(send: FetchLike): FetchLike {
  return async function fetchWithOwnSignal(input, init) {
    const shared = init?.signal;
    if (!shared || shared.aborted) return send(input, init);
    const own = new AbortController();
    const abort = () => own.abort(shared.reason);
    // One listener per request in flight now, so many calls in flight at once are no leak: the
    // default limit (10) would warn for them.
    setMaxListeners(0, shared);
    shared.addEventListener('abort', abort, { once: true });
    const unlink = () => shared.removeEventListener('abort', abort);

    let response: Response;
    try {
      response = await send(input, { ...init, signal: own.signal });
    } catch (err) {
      unlink();
      throw err;
    }
    if (!response.body || NULL_BODY_STATUSES.has(response.status)) {
      unlink();
      return response;
    }
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            unlink();
            controller.close();
          } else {
            controller.enqueue(value);
          }
        } catch (err) {
          unlink();
          controller.error(err);
        }
      },
      cancel(reason) {
        unlink();
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}
