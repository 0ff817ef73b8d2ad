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
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // proc(5): the command name (field 2) is in parentheses and may hold spaces; utime and stime are
  // fields 14 and 15, i.e. the 12th and 13th after the closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks / TICKS_PER_SECOND : undefined;
}
