/**
 * How long a thread has waited, runnable, for a CPU so far, from Linux's
 * /proc/<pid>/task/<tid>/schedstat (sched_info: time on the CPU, time waiting on a run queue,
 * timeslices; nanoseconds). For the server's main thread (tid = pid) the growth of this wait per
 * request is the delay other threads impose on its event loop: what low-priority hashing must
 * keep small. Unlike a latency percentile it is barely moved by the client's own scheduling.
 *
 * Returns undefined where /proc or schedstats are not there, so a benchmark then prints
 * latencies only.
 */
import { readFileSync } from 'node:fs';

export function runQueueWaitSeconds(pid: number, tid = pid): number | undefined {
  try {
    const waitNs = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
    return Number.isFinite(waitNs) ? waitNs / 1e9 : undefined;
  } catch {
    return undefined;
  }
}
