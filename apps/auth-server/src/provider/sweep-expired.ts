/**
 * Deletes expired oidc-provider rows so the database stays bounded. Runs in small batches so a
 * large backlog never holds the write lock for long.
 */
import type { Db } from '../../../shared/database.ts';

const BATCH = 1000;

/** `nowSeconds`: epoch seconds (clock.epochSeconds()). */
export function sweepExpired(db: Db, nowSeconds: number): number {
  const remove = db.prepare(`DELETE FROM oidc_models WHERE rowid IN (
    SELECT rowid FROM oidc_models WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ${BATCH})`);
  let total = 0;
  for (;;) {
    const { changes } = remove.run(nowSeconds);
    total += changes;
    if (changes < BATCH) return total;
  }
}

/** Runs the clean-up tasks every `intervalMs` (default one minute); returns a function that stops it. */
export function startSweeper(tasks: Array<() => unknown>, intervalMs = 60_000, onError: (err: unknown) => void = () => {}): () => void {
  const timer = setInterval(() => {
    for (const task of tasks) {
      try {
        // A store on SqlDatabase answers with a promise: its failure is reported the same way.
        const done = task();
        if (done instanceof Promise) done.catch(onError);
      } catch (err) {
        onError(err);
      }
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
