/**
 * Runs the clean-up tasks (expired provider rows, throttle counters, audit, …) every minute.
 *
 * - Tasks may be asynchronous; each is awaited in turn, and a failing task does not stop the
 *   others. A round still running when the next is due is not overlapped: the next is skipped.
 * - Every replica sweeps: each task is a bounded DELETE of rows already expired, so two
 *   replicas sweeping at once only share the work.
 */

/** Runs the clean-up tasks every `intervalMs` (default one minute); returns a function that stops it. */
export function startSweeper(tasks: Array<() => unknown>, intervalMs = 60_000, onError: (err: unknown) => void = () => {}): () => void {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      for (const task of tasks) {
        try {
          await task();
        } catch (err) {
          onError(err);
        }
      }
    } finally {
      running = false;
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
