/**
 * Where each refresh grant's server CPU goes, Gatehouse against the bare oidc-provider: runs one
 * side of bench/refresh-grants.ts under `--cpu-prof`, keeps only the profile samples taken while
 * the chains were refreshing (start-up, sign-ins and warm-up left out), and prints microseconds of
 * main-thread self time per grant, by origin (our folders, each package, Node's internals, GC) and
 * by function. The process's CPU per grant over the same window (/proc) is printed beside it, so
 * the sampled figure can be checked against the real one.
 *
 * The window is cut by CLOCK_MONOTONIC, which both V8's profile timestamps and
 * process.hrtime use on Linux.
 *
 * Read with care on a loaded machine: a sample's time includes the time the thread waited for a
 * core, charged to the frame it was in (the sampled total then exceeds the process's CPU), and
 * the frame that hands RS256 signing to the libuv pool (`jobPromise`, node:internal/crypto/util)
 * showed 250-600 µs per grant of "self time" although that call takes about 40 µs on the main
 * thread. bench/perf-refresh-grants.ts counts only time on a CPU, on every thread.
 *
 * Run: npx tsx bench/profile-refresh-grants.ts <gatehouse|bare|memory> [seconds, default 10] [functions, default 40]
 *   (BENCH_WARMUP: seconds of load before the window, default 25; PROFILE_JSON=file: every
 *   function's µs per grant, to compare two runs)
 */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { processCpuSeconds } from './process-cpu-seconds.ts';
import { round, startBare, startGatehouse, type Side } from './refresh-grants.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** As bench/top-self-time.ts groups a frame, with oidc-provider's folders split out. */
function origin(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const provider = /node_modules\/oidc-provider\/lib\/([^/]+)/.exec(url);
  if (provider) return `oidc-provider/${provider[1]}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const ours = /\/(apps\/[^/]+\/src\/[^/]+|apps\/shared\/[^/]+|apps\/shared|bench|test\/[^/]+)\//.exec(url);
  return ours ? ours[1]! : url;
}

/** Self time per origin and per function between `from` and `to` (µs, CLOCK_MONOTONIC). */
function selfTime(profile: CpuProfile, from: number, to: number) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const perFunction = new Map<string, number>();
  const perOrigin = new Map<string, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < from || at > to) return;
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const where = url ? `${url.replace(/^.*\/(node_modules|apps|bench|test)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'} ${where}`;
    perFunction.set(key, (perFunction.get(key) ?? 0) + delta);
    const group = origin(url, functionName);
    perOrigin.set(group, (perOrigin.get(group) ?? 0) + delta);
  });
  return { perFunction, perOrigin };
}

const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

async function main(): Promise<void> {
  const which = process.argv[2] ?? 'gatehouse';
  const seconds = Number(process.argv[3] ?? 10);
  const count = Number(process.argv[4] ?? 40);
  const dir = mkdtempSync(join(tmpdir(), 'refresh-prof-'));
  process.env.BENCH_CPU_PROF_DIR = dir;
  const side: Side = which === 'bare' ? await startBare() : await startGatehouse(which, which === 'memory' ? ['--memory'] : []);
  let from: number;
  let to: number;
  let cpu: number | undefined;
  try {
    await round(side, Number(process.env.BENCH_WARMUP ?? 25), false);
    const cpuBefore = processCpuSeconds(side.server.pid);
    from = monotonicMicros();
    await round(side, seconds, true);
    to = monotonicMicros();
    const cpuAfter = processCpuSeconds(side.server.pid);
    cpu = cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined;
  } finally {
    await side.server.close();
  }
  // The main thread's profile is the largest one the process wrote.
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile() && f.name.endsWith('.cpuprofile'))
    .map((f) => join(f.parentPath, f.name)).sort((a, b) => statSync(b).size - statSync(a).size);
  const profile = JSON.parse(readFileSync(files[0]!, 'utf8')) as CpuProfile;
  const { perFunction, perOrigin } = selfTime(profile, from, to);
  const grants = side.grants;
  const idle = perOrigin.get('(idle)') ?? 0;
  const busy = [...perOrigin.values()].reduce((a, b) => a + b, 0) - idle;
  const rows = (entries: Map<string, number>, limit: number) => [...entries].filter(([key]) => !key.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, limit)
    .map(([key, micros]) => `  ${(micros / grants).toFixed(1).padStart(7)} µs/grant ${((100 * micros) / busy).toFixed(1).padStart(5)}%  ${key}`);
  console.log(`${which}: ${grants} grants in ${seconds} s (${side.rates[0]!.toFixed(0)}/s); process CPU ${cpu === undefined ? 'n/a' : `${((cpu / grants) * 1e6).toFixed(0)} µs/grant`}; main thread sampled busy ${(busy / grants).toFixed(0)} µs/grant (profile ${files[0]})`);
  console.log('by origin:');
  console.log(rows(perOrigin, 30).join('\n'));
  // PROFILE_JSON=file: every function's µs per grant, to compare two runs.
  if (process.env.PROFILE_JSON) writeFileSync(process.env.PROFILE_JSON, JSON.stringify(Object.fromEntries([...perFunction].map(([key, micros]) => [key, micros / grants]))));
  console.log(`top ${count} functions:`);
  console.log(rows(perFunction, count).join('\n'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
