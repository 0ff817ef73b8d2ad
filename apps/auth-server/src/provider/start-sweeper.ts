/**
 * Runs the clean-up tasks (expired provider rows, throttle counters, audit, …) every minute.
 *
 * - Tasks may be asynchronous; each is awaited in turn, and a failing task does not stop the
 *   others. A round still running when the next is due is not overlapped: the next is skipped.
 * - Every replica sweeps: each task is a bounded DELETE of rows already expired, so two
 *   replicas sweeping at once only share the work.
 */

/** Runs each task in turn, awaiting it; a failing task is reported and the others still run. */
export async function sweepOnce(tasks: ReadonlyArray<() => unknown>, onError: (err: unknown) => void = () => {}): Promise<void> {
  for (const task of tasks) {
    try {
      await task();
    } catch (err) {
      onError(err);
    }
  }
}

/** Runs the clean-up tasks every `intervalMs` (default one minute); returns a function that stops it. */
export function startSweeper(tasks: ReadonlyArray<() => unknown>, intervalMs = 60_000, onError: (err: unknown) => void = () => {}): () => void {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      await sweepOnce(tasks, onError);
    } finally {
      running = false;
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
