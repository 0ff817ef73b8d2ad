/**
 * Where a process's CPU time went: reads a V8 CPU profile (`node --cpu-prof`, e.g. the one
 * BENCH_CPU_PROF_DIR makes bench/gateway-echo.ts write) and prints the functions with the most
 * self time, then the same time summed per package (or per part of this repository, or Node's
 * own code), so a hot spot shows whether it is ours, a library's or the runtime's.
 *
 * Run: npx tsx bench/top-self-time.ts <file.cpuprofile> [how many functions, default 25]
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Groups a script URL: a package under node_modules, a folder of this repository, or Node's own;
 * frames without a script are V8's own ((idle), (garbage collector), (program)) or native code.
 */
function origin(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const ours = /\/(apps\/[^/]+\/src\/[^/]+|apps\/shared|bench|test\/[^/]+)\//.exec(url);
  return ours ? ours[1]! : url;
}

export function topSelfTime(profile: CpuProfile, count: number): string[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const perFunction = new Map<string, number>();
  const perOrigin = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const micros = profile.timeDeltas[i] ?? 0;
    total += micros;
    const where = url ? `${url.replace(/^.*\/(node_modules|apps|bench|test)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'} ${where}`;
    perFunction.set(key, (perFunction.get(key) ?? 0) + micros);
    const group = origin(url, functionName);
    perOrigin.set(group, (perOrigin.get(group) ?? 0) + micros);
  });
  const rows = (entries: Map<string, number>, limit: number) => [...entries].sort((a, b) => b[1] - a[1]).slice(0, limit)
    .map(([key, micros]) => `  ${(micros / 1000).toFixed(0).padStart(7)} ms ${((100 * micros) / total).toFixed(1).padStart(5)}%  ${key}`);
  return [
    `${(total / 1000).toFixed(0)} ms sampled; top ${count} functions by self time:`,
    ...rows(perFunction, count),
    'self time by origin:',
    ...rows(perOrigin, 15),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2];
  if (!file) throw new TypeError('usage: top-self-time.ts <file.cpuprofile> [count]');
  console.log(topSelfTime(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(process.argv[3] ?? 25)).join('\n'));
}
