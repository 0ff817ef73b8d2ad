/**
 * On-CPU samples of one side of bench/refresh-grants.ts, every thread of the server process, with
 * Linux `perf` (which must be installed): what V8's `--cpu-prof` cannot show. A `--cpu-prof`
 * sample's time includes the time its thread waited for a core, so on a loaded machine whatever
 * ran before each wait looks expensive (bench/profile-refresh-grants.ts); and it sees only the
 * main thread, not the libuv pool that signs tokens nor V8's compiler and GC threads. perf counts
 * only time on a CPU, per thread.
 *
 * The server runs with `--perf-basic-prof`, so JIT-compiled functions appear by name; functions
 * still interpreted appear as V8's bytecode handlers (Builtins_…).
 *
 * Run: npx tsx bench/perf-refresh-grants.ts <gatehouse|bare|memory> [seconds, default 10] [out, default perf-<side>.data]
 *   (BENCH_WARMUP: seconds of load before recording, default 25), then for example
 *   perf report -i <out> --no-children --sort sym -g none --stdio
 */
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { processCpuSeconds } from './process-cpu-seconds.ts';
import { round, startBare, startGatehouse, type Side } from './refresh-grants.ts';

async function main(): Promise<void> {
  const which = process.argv[2] ?? 'gatehouse';
  const seconds = Number(process.argv[3] ?? 10);
  const out = process.argv[4] ?? `perf-${which}.data`;
  process.env.BENCH_PERF_MAP = '1';
  const side: Side = which === 'bare' ? await startBare() : await startGatehouse(which, which === 'memory' ? ['--memory'] : []);
  try {
    await round(side, Number(process.env.BENCH_WARMUP ?? 25), false);
    const perf = spawn('perf', ['record', '-e', 'cpu-clock', '-F', '1999', '-g', '-o', out, '-p', String(side.server.pid)], { stdio: 'ignore' });
    const exited = new Promise((resolve) => perf.once('exit', resolve));
    // perf needs a moment to attach to every thread.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const cpuBefore = processCpuSeconds(side.server.pid);
    await round(side, seconds, true);
    const cpuAfter = processCpuSeconds(side.server.pid);
    perf.kill('SIGINT');
    await exited;
    const cpu = cpuBefore !== undefined && cpuAfter !== undefined ? `${(((cpuAfter - cpuBefore) / side.grants) * 1e6).toFixed(0)} µs CPU/grant` : 'CPU n/a';
    console.log(`${which}: ${side.grants} grants recorded in ${out} (${side.rates[0]!.toFixed(0)}/s, ${cpu}); samples are 1/1999 s each`);
  } finally {
    await side.server.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
