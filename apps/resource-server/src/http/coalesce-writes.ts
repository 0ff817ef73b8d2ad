/**
 * Sends what an MCP answer writes in one turn of the event loop together, once the immediates
 * queued in that turn have run.
 *
 * The MCP SDK's transport answers a POST as an event stream and writes its head (flushHeaders)
 * as soon as the stream starts, in the same turn in which the gateway dispatches the call to its
 * upstream server; undici sends that upstream request at the end of the turn (setImmediate). Written at once, the
 * head's socket write (on loopback a system call in which the kernel also does the receiver's TCP
 * work) would delay the upstream request, which is the call's critical path. Corked at the first
 * write of a turn and uncorked once every immediate queued in that turn has run, undici's among
 * them, the head leaves just after the upstream request, and the pieces written in one turn leave
 * as one write.
 * - The uncork is an immediate queued by an immediate: Node runs an immediate queued while
 *   immediates run in the next loop iteration, so it comes after undici's whichever of the two
 *   was queued first. An uncork queued directly ran after undici's on Node 20 but before it on
 *   Node 24, where the head then left first again (test/gateway/response-writes on Node 24.22).
 * - Streaming is kept: nothing waits past the next loop iteration, so an event written while a
 *   call is still running (a progress notification) leaves at once.
 * - Deliberately not done: holding the head until the first event (a long call would leave the
 *   caller without headers, and clients time out on headers), or changing what is written.
 * - Shown by test/gateway/response-writes.test.ts; the effect on latency by bench/gateway-echo.ts.
 */
import type { ServerResponse } from 'node:http';

/** What coalesceWrites keeps on a response: whether it is corked this turn, and its own methods. */
const state = Symbol('coalesced writes');

interface Coalesced {
  corked: boolean;
  flushHeaders: ServerResponse['flushHeaders'];
  write: ServerResponse['write'];
  end: ServerResponse['end'];
}

type CoalescedResponse = ServerResponse & { [state]: Coalesced };

export function coalesceWrites(res: ServerResponse): void {
  // The wrappers below are made once, for every response: a response's own methods and state are
  // kept on it, so a call pays for no closures (measured under tsx, where each also defined its
  // `name`: about 1 % of a built-in tool call's CPU).
  const coalesced = res as CoalescedResponse;
  coalesced[state] = { corked: false, flushHeaders: res.flushHeaders, write: res.write, end: res.end };
  res.flushHeaders = coalescedFlushHeaders;
  res.write = coalescedWrite as ServerResponse['write'];
  res.end = coalescedEnd as ServerResponse['end'];
}

function coalescedFlushHeaders(this: CoalescedResponse): void {
  corkThisTurn(this);
  this[state].flushHeaders.call(this);
}

function coalescedWrite(this: CoalescedResponse, ...args: Parameters<ServerResponse['write']>): boolean {
  corkThisTurn(this);
  return this[state].write.apply(this, args as never);
}

/**
 * What this turn corked leaves before the end of the answer. Node 22 does not see to it: once the
 * head has been sent, a chunk written while corked waits in the response, and `end` wrote the
 * terminating chunk ahead of it, so the caller read an event stream that ended empty and the
 * answer came after the end (every call relayed to a server behind the gateway, on Node 22.23).
 * Node 24's own `end` flushes those chunks first; this does the same, into the socket corked once
 * more, so the answer and the end still leave together in one write when `end` uncorks it.
 */
function coalescedEnd(this: CoalescedResponse, ...args: Parameters<ServerResponse['end']>): ServerResponse {
  if (this[state].corked) {
    this[state].corked = false;
    this.socket?.cork();
    this.uncork();
  }
  return this[state].end.apply(this, args as never);
}

function corkThisTurn(res: CoalescedResponse): void {
  if (res[state].corked) return;
  res[state].corked = true;
  res.cork();
  setImmediate(uncorkAfterThisTurnsImmediates, res);
}

function uncorkAfterThisTurnsImmediates(res: CoalescedResponse): void {
  setImmediate(uncork, res);
}

function uncork(res: CoalescedResponse): void {
  // Already done when the answer ended this turn (coalescedEnd).
  if (!res[state].corked) return;
  res[state].corked = false;
  res.uncork();
}
