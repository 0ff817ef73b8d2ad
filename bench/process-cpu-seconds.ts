/**
 * CPU time (user + system) another process has used so far, read from Linux's /proc/<pid>/stat.
 * On a machine shared with other work, wall-clock rates swing with the neighbours' load, while the
 * CPU a process spends per call barely moves: benchmarks report both.
 *
 * Returns undefined where /proc is not there (macOS) or the process is gone, so a benchmark then
 * prints its wall-clock figures only.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: the unit of /proc's times, 100 on every Linux architecture Node runs on (sysconf(_SC_CLK_TCK)). */
const TICKS_PER_SECOND = 100;

export function processCpuSeconds(pid: number): number | undefined {
  return cpuSecondsOf(`/proc/${pid}/stat`);
}

/**
 * CPU time of the process's main thread alone (its thread id is its pid): where Node runs
 * JavaScript. The rest of a process's CPU is the libuv pool (WebCrypto signing, file system),
 * V8's compiler and GC helpers and worker threads. A server whose main thread is busy nearly all
 * the wall time is bound by it, whatever the other cores do.
 */
export function mainThreadCpuSeconds(pid: number): number | undefined {
  return cpuSecondsOf(`/proc/${pid}/task/${pid}/stat`);
}

function cpuSecondsOf(file: string): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  // proc(5): the command name (field 2) is in parentheses and may hold spaces; utime and stime are
  // fields 14 and 15, i.e. the 12th and 13th after the closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks / TICKS_PER_SECOND : undefined;
}

/**
 * Seconds all CPUs of the machine spent idle so far (/proc/stat: idle + iowait), so a benchmark
 * can say whether its rounds used the whole machine (CPU-bound) or waited on something else.
 */
export function machineIdleSeconds(): number | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  // proc(5): "cpu  user nice system idle iowait …", the first line summing every CPU.
  const fields = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/);
  const ticks = Number(fields[4]) + Number(fields[5]);
  return Number.isFinite(ticks) ? ticks / TICKS_PER_SECOND : undefined;
}
