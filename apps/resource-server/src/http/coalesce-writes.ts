/**
 * Sends what an MCP answer writes in one turn of the event loop together, at the end of that turn.
 *
 * The MCP SDK's transport answers a POST as an event stream and writes its head (flushHeaders)
 * as soon as the stream starts, in the same turn in which the gateway dispatches the call to its
 * upstream server; undici sends that upstream request at the end of the turn (setImmediate). Written at once, the
 * head's socket write (on loopback a system call in which the kernel also does the receiver's TCP
 * work) would delay the upstream request, which is the call's critical path. Corked at the first
 * write of a turn and uncorked by a setImmediate queued after undici's, the head leaves just after
 * the upstream request, and the pieces written in one turn leave as one write.
 *
 * - Streaming is kept: nothing waits past the current turn, so an event written while a call is
 *   still running (a progress notification) leaves at once.
 * - Deliberately not done: holding the head until the first event (a long call would leave the
 *   caller without headers, and clients time out on headers), or changing what is written.
 * - Shown by test/gateway/response-writes.test.ts; the effect on latency by bench/gateway-echo.ts.
 */
import type { ServerResponse } from 'node:http';

export function coalesceWrites(res: ServerResponse): void {
  let corked = false;
  const uncork = () => {
    corked = false;
    res.uncork();
  };
  const corkThisTurn = () => {
    if (corked) return;
    corked = true;
    res.cork();
    setImmediate(uncork);
  };
  // `end` needs no wrapper: Node uncorks fully on end, so it sends what the turn corked with it.
  const { flushHeaders, write } = res;
  res.flushHeaders = function coalescedFlushHeaders(this: ServerResponse) {
    corkThisTurn();
    flushHeaders.call(this);
  };
  res.write = function coalescedWrite(this: ServerResponse, ...args: Parameters<typeof write>) {
    corkThisTurn();
    return write.apply(this, args as never);
  } as typeof write;
}
