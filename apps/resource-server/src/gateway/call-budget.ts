/**
 * How many requests (tools/call, prompts/get, resources/read) one caller may have waiting on one
 * upstream server at once: at most MAX_CALLS_PER_CALLER. A user counts by their token's subject, a
 * service account by its client (its own namespace, so no user's subject can use up its calls).
 *
 * A call keeps running when its caller hangs up (MCP 2025-11-25 basic/transports: a disconnection
 * SHOULD NOT be read as a cancellation), and holds what it holds upstream until it is answered,
 * cancelled or times out: an HTTP server's connection (undici's global agent has no per-origin
 * cap), a place on a shared stdio server's one connection. Unbounded, one user with one
 * `mcp:read` token sent 300 calls and hung up on each, every 30 s, and the server held all 300.
 *
 * A cancelled call gives its place back at once only where cancelling ends it upstream: an HTTP
 * server's POST is closed. A stdio server may ignore `notifications/cancelled` and keep working
 * (MCP 2025-11-25 basic/utilities/cancellation), and answers nothing that says when it stops, so
 * there the place is kept until the call's timeout (releaseAfter); one user who cancelled each call
 * as it started had 40 running at once on a shared server.
 *
 * Deliberately not bounded here: calls of different callers (each has their own budget), or all
 * calls to a server together (its own capacity is its `timeout`'s business).
 */
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';
import { CallLimitError } from './upstream-errors.ts';

/**
 * A model asks for a few tool calls at once and clients run them side by side; 16 waiting on one
 * server is more than an interactive client keeps open, and a batch job that needs more is better
 * served by its own service account.
 */
export const MAX_CALLS_PER_CALLER = 16;

export class CallBudget {
  readonly #limit: number;
  /** `<server> <caller>` → calls in flight. */
  readonly #inFlight = new Map<string, number>();

  constructor(limit = MAX_CALLS_PER_CALLER) {
    this.#limit = limit;
  }

  /** Takes a place for one of `caller`'s calls to `server`; returns its release (idempotent). */
  take(server: string, caller: VerifiedAccessToken): () => void {
    const key = `${server} ${caller.extra.service ? `client:${caller.clientId}` : `user:${caller.extra.subject}`}`;
    const held = this.#inFlight.get(key) ?? 0;
    if (held >= this.#limit) {
      throw new CallLimitError(`You already have ${held} calls in progress at the ${server} server, the most Gatehouse sends it for one caller at once (calls cancelled or left by a closed session count until they end, or until the server's timeout at a stdio server); retry when one of them has ended.`);
    }
    this.#inFlight.set(key, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#inFlight.get(key) ?? 1) - 1;
      if (left > 0) this.#inFlight.set(key, left);
      else this.#inFlight.delete(key);
    };
  }
}

/**
 * Gives a place back after `ms`, or at once when `ended` aborts (the connection the call ran on is
 * gone, and the call with it). The timer is unref'd: a place still kept never holds the process up.
 */
export function releaseAfter(release: () => void, ms: number, ended: AbortSignal): void {
  if (ms <= 0 || ended.aborted) return release();
  const timer = setTimeout(releaseNow, ms).unref();
  ended.addEventListener('abort', releaseNow, { once: true });
  function releaseNow(): void {
    clearTimeout(timer);
    ended.removeEventListener('abort', releaseNow);
    release();
  }
}
