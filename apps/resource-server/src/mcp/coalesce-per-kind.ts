/**
 * Calls `send(kind)` at most once per `everyMs` for each kind: the first notice at once, and any
 * that follow within the stretch as one more at its end (so the last change is always told). For
 * notices that only say "something changed, read it again", where one says what a thousand say.
 */
export interface Coalesced<Kind> {
  notify(kind: Kind): void;
  /** Drops what is waiting for the end of its stretch; later notices are not sent. */
  stop(): void;
}

export function coalescePerKind<Kind>(send: (kind: Kind) => void, everyMs: number): Coalesced<Kind> {
  /** Per kind, until when a notice waits, and whether one is waiting. */
  const quietUntil = new Map<Kind, number>();
  const waiting = new Map<Kind, ReturnType<typeof setTimeout>>();
  let stopped = false;

  const sendNow = (kind: Kind) => {
    quietUntil.set(kind, performance.now() + everyMs);
    send(kind);
  };

  return {
    notify(kind) {
      if (stopped || waiting.has(kind)) return;
      const wait = (quietUntil.get(kind) ?? 0) - performance.now();
      if (wait <= 0) return sendNow(kind);
      waiting.set(kind, setTimeout(() => {
        waiting.delete(kind);
        sendNow(kind);
      }, wait).unref());
    },
    stop() {
      stopped = true;
      for (const timer of waiting.values()) clearTimeout(timer);
      waiting.clear();
    },
  };
}
