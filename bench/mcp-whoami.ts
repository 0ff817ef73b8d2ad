/**
 * `tools/call whoami` through Gatehouse's whole resource-server path — HTTP over loopback, the
 * bearer check with the revocation list, the scope check, the SDK's Streamable HTTP transport, the
 * MCP server, the tool, its audit record, the request log line (info, to /dev/null) and metrics —
 * against what a user would otherwise run: a bare MCP SDK server with no authentication
 * (bench/bare-mcp-server.ts). Target: Gatehouse ≥ 0.9 × the bare server (issue 15).
 *
 * - Response mode: both answer a POST in the SDK's default mode, an SSE stream carrying the one
 *   answer (`enableJsonResponse` unset on both transports; Gatehouse's default since issue 12).
 *   Every answer is checked to be that event stream.
 * - Each server runs in a process of its own (bench/gatehouse-mcp-server.ts,
 *   bench/bare-mcp-server.ts), as it would be deployed. The real MCP SDK client opens each
 *   session (initialize, the initialized notification); the measured calls are then sent as that
 *   transport sends them (POST, session id, protocol version, bearer token) by plain fetch, so one
 *   client process is not the bottleneck that hides what the servers cost.
 * - Bounded: ROUNDS rounds of CALLS_PER_ROUND calls per server (after a warm-up), the servers in
 *   alternating order; each rate is the median over rounds, the ratio the median of per-round
 *   ratios. On a shared VM single rounds swing by tens of percent, hence many short rounds.
 * - Server CPU per call: user + system time of each server process (/proc) during its own rounds,
 *   over their calls. It barely moves with the neighbours' load, where calls/s does: judge a
 *   change by it first. Latency quantiles are over every measured call.
 *
 * Run: npx tsx bench/mcp-whoami.ts   (BENCH_CONCURRENCY sets the calls in flight, default 16;
 * BENCH_CPU_PROF_DIR=<dir> writes CPU profiles of each server's threads into <dir>/<server>/, the
 * largest being its main thread, to read with bench/top-self-time.ts)
 */
import { pathToFileURL } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { median, openMcpSession, quantile, type Started } from './mcp-session.ts';
import { processCpuSeconds } from './process-cpu-seconds.ts';
import { startServerProcess } from './start-server-process.ts';

const WARMUP_CALLS = 1000;
const CALLS_PER_ROUND = 400;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const CPU_PROFILE_DIR = process.env.BENCH_CPU_PROF_DIR;
const TARGET_RATIO = 0.9;

interface Variant {
  label: string;
  pid: number;
  close(): Promise<void>;
  call(): Promise<void>;
  rates: number[];
  latencies: number[];
  /** CPU seconds the server process used during this variant's rounds; NaN when /proc is not there. */
  cpuSeconds: number;
  calls: number;
}

/** Opens a session with the SDK client; returns a function making one whoami call in it. */
async function openSession(started: Started): Promise<{ client: Client; call(): Promise<void> }> {
  const { client, post } = await openMcpSession(started, 'bench-mcp-whoami');
  let id = 0;
  return {
    client,
    async call() {
      id += 1;
      const response = await post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
      const text = await response.text();
      const sse = response.headers.get('content-type')?.startsWith('text/event-stream');
      if (response.status !== 200 || !sse || !text.includes('"structuredContent"') || text.includes('"isError":true')) {
        throw new Error(`whoami failed: ${response.status} ${text.slice(0, 200)}`);
      }
    },
  };
}

/** Makes `calls` calls, CONCURRENCY at a time; returns calls per second and each call's latency in ms. */
async function measure(call: () => Promise<void>, calls: number): Promise<{ rate: number; latencies: number[] }> {
  let remaining = calls;
  const latencies: number[] = [];
  const worker = async () => {
    while (remaining > 0) {
      remaining -= 1;
      const sent = performance.now();
      await call();
      latencies.push(performance.now() - sent);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { rate: calls / ((performance.now() - started) / 1000), latencies };
}

export async function benchMcpWhoami(): Promise<void> {
  const variants: Variant[] = [];
  const profileArgs = (name: string) => (CPU_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROFILE_DIR}/${name}`] : []);
  const servers = [
    ['gatehouse (authenticated)', './gatehouse-mcp-server.ts', 'gatehouse'],
    ['bare MCP SDK server, no auth', './bare-mcp-server.ts', 'bare'],
  ] as const;
  try {
    for (const [label, script, name] of servers) {
      const server = await startServerProcess<Started>(script, [], profileArgs(name));
      const session = await openSession(server.started);
      variants.push({
        label,
        pid: server.pid,
        call: session.call,
        rates: [],
        latencies: [],
        cpuSeconds: 0,
        calls: 0,
        async close() {
          await session.client.close();
          await server.close();
        },
      });
    }
    for (const variant of variants) await measure(variant.call, WARMUP_CALLS);
    for (let round = 0; round < ROUNDS; round += 1) {
      for (let i = 0; i < variants.length; i += 1) {
        const variant = variants[(round + i) % variants.length]!;
        const before = processCpuSeconds(variant.pid) ?? Number.NaN;
        const { rate, latencies } = await measure(variant.call, CALLS_PER_ROUND);
        variant.cpuSeconds += (processCpuSeconds(variant.pid) ?? Number.NaN) - before;
        variant.calls += CALLS_PER_ROUND;
        variant.rates.push(rate);
        variant.latencies.push(...latencies);
      }
    }
  } finally {
    for (const variant of variants) await variant.close();
  }

  // Each round measures both servers back to back, so a per-round ratio compares like with like;
  // its median is steadier than the ratio of two medians on a machine whose speed drifts.
  const [gatehouse, bare] = variants as [Variant, Variant];
  const ratios = gatehouse.rates.map((rate, round) => rate / bare.rates[round]!);
  const ratio = median(ratios);
  const ms = (value: number) => `${value.toFixed(2).padStart(6)} ms`;
  console.log(`mcp tools/call whoami, both answering as an SSE stream (the SDK's default)`);
  console.log(`  (${ROUNDS} rounds × ${CALLS_PER_ROUND} calls, ${CONCURRENCY} in flight, sides alternating; rates: medians over rounds;`);
  console.log('   latency quantiles over every call; CPU per call: the server process\'s user + system time during its rounds)');
  for (const variant of variants) {
    const cpu = Number.isNaN(variant.cpuSeconds) ? '' : `   CPU/call ${ms((variant.cpuSeconds * 1000) / variant.calls)}`;
    console.log(`  ${variant.label.padEnd(29)} ${median(variant.rates).toFixed(0).padStart(6)} calls/s   p50 ${ms(median(variant.latencies))}   p99 ${ms(quantile(variant.latencies, 0.99))}${cpu}`);
  }
  const cpuRatio = bare.cpuSeconds / bare.calls / (gatehouse.cpuSeconds / gatehouse.calls);
  console.log(`  ratio gatehouse/bare          ${ratio.toFixed(3)}   (target ≥ ${TARGET_RATIO})${ratio >= TARGET_RATIO ? '' : '   BELOW TARGET'}`
    + `   middle half of per-round ratios ${quantile(ratios, 0.25).toFixed(2)}–${quantile(ratios, 0.75).toFixed(2)}`);
  if (!Number.isNaN(cpuRatio)) console.log(`  CPU per call, bare/gatehouse ${cpuRatio.toFixed(3)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchMcpWhoami();
}
