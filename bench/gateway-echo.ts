/**
 * What the gateway adds to a call (issue 12): `tools/call` of server-everything's `echo` through
 * Gatehouse — HTTP over loopback, bearer check, scope check, the MCP server, the gateway's
 * upstream client and its Streamable HTTP hop — against the same upstream process called directly,
 * without Gatehouse, in one run. Targets: calls/s ratio Gatehouse/direct ≥ 0.5 and added p50
 * latency ≤ 1 ms.
 *
 * - One upstream process (bench/start-everything-server.ts) serves both sides, each through its own
 *   MCP session; Gatehouse runs in a process of its own (bench/gatehouse-gateway-server.ts). The
 *   real MCP SDK client opens each session; the measured calls are then sent as that transport
 *   sends them by plain fetch, so the client process is not the bottleneck. Every answer is parsed
 *   (SSE or JSON) and its echo checked.
 * - Two loads: 1 call in flight (latency without queueing: the added p50 target is judged here)
 *   and CONCURRENCY in flight (throughput: the ratio target is judged here); both are printed for
 *   both loads. ROUNDS rounds per load after a warm-up, the sides in alternating order; a rate is
 *   the median over rounds, the ratio the median of per-round ratios (a shared VM's speed drifts;
 *   rounds measured back to back compare like with like), latency quantiles are over every call.
 *
 * Run: npx tsx bench/gateway-echo.ts   (BENCH_CONCURRENCY sets the calls in flight, default 16;
 * BENCH_WARMUP the seconds of load per side before measuring, default 20;
 * BENCH_CPU_PROF_DIR=<dir> makes the Gatehouse process write a CPU profile there, to open in
 * Chrome DevTools or read with bench/top-self-time.ts)
 */
import { pathToFileURL } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UPSTREAM_NAME } from './gatehouse-gateway-server.ts';
import { median, openMcpSession, quantile, type Started } from './mcp-session.ts';
import { processCpuSeconds } from './process-cpu-seconds.ts';
import { startEverythingServer } from './start-everything-server.ts';
import { startServerProcess } from './start-server-process.ts';

/**
 * Seconds of unrecorded load per side before the measured rounds (BENCH_WARMUP), in slices that
 * alternate between the sides, so both reach their steady state. V8 keeps optimizing a server's
 * hot code on background threads for its first ~20 s under load (perf put TurboFan at 15-17 % of
 * a server's CPU 2 s into a load, 2 % after 30 s: see bench/refresh-grants.ts); with the former
 * 1000-call warm-up (about 2 s) the first load's rounds measured that one-time compilation, and
 * CPU per call was 1.24–1.5 ms in them against 1.03–1.1 ms in the second load's.
 */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP ?? 20);
const WARMUP_SLICE_SECONDS = 5;
const ROUNDS = 20;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const CPU_PROFILE_DIR = process.env.BENCH_CPU_PROF_DIR;
const LOADS = [
  { inFlight: 1, callsPerRound: 150 },
  { inFlight: CONCURRENCY, callsPerRound: 400 },
] as const;
const MESSAGE = 'through the gate';
const TARGET_RATIO = 0.5;
const TARGET_ADDED_P50_MS = 1;

interface Side {
  label: string;
  call(): Promise<void>;
  close(): Promise<void>;
  /** The Gatehouse process, whose CPU time is counted during this side's rounds. */
  gatehousePid?: number;
}

interface Sample {
  rates: number[];
  latencies: number[];
  calls: number;
  /** CPU seconds used during this side's rounds by the Gatehouse process and by the upstream. */
  gatehouseCpu: number;
  upstreamCpu: number;
}

/**
 * The JSON-RPC messages of a POST's answer: one JSON body, or the `data` of each SSE event
 * (Streamable HTTP, MCP 2025-06-18 "Sending Messages to the Server": the server picks either).
 * An event with empty data is skipped: a server with an event store opens the stream with one,
 * only to hand out an event id to resume from.
 */
function parseMessages(contentType: string, text: string): unknown[] {
  if (contentType.startsWith('application/json')) return [JSON.parse(text)];
  return text.split(/\r?\n\r?\n/).flatMap((event) => {
    const data = event.split(/\r?\n/).filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trimStart());
    const json = data.join('\n');
    return json ? [JSON.parse(json)] : [];
  });
}

/** Opens a session with the SDK client; returns a function making one echo call in it. */
async function openSession(started: Started, tool: string): Promise<{ client: Client; call(): Promise<void> }> {
  const { client, post } = await openMcpSession(started, 'bench-gateway-echo');
  const expected = `Echo: ${MESSAGE}`;
  let id = 0;
  return {
    client,
    async call() {
      id += 1;
      const callId = id;
      const response = await post({ jsonrpc: '2.0', id: callId, method: 'tools/call', params: { name: tool, arguments: { message: MESSAGE } } });
      const text = await response.text();
      const answer = response.status === 200
        ? parseMessages(response.headers.get('content-type') ?? '', text).find((message) => (message as { id?: unknown }).id === callId) as
          { result?: { isError?: boolean; content?: { text?: string }[] } } | undefined
        : undefined;
      if (!answer?.result || answer.result.isError || answer.result.content?.[0]?.text !== expected) {
        throw new Error(`${tool} failed: ${response.status} ${text.slice(0, 300)}`);
      }
    },
  };
}

/** Makes `calls` calls, `inFlight` at a time; returns calls per second and each call's latency in ms. */
async function measure(call: () => Promise<void>, calls: number, inFlight: number): Promise<{ rate: number; latencies: number[] }> {
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
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { rate: calls / ((performance.now() - started) / 1000), latencies };
}

/** Keeps `inFlight` calls going for `seconds`, recording nothing. */
async function load(call: () => Promise<void>, seconds: number, inFlight: number): Promise<void> {
  const until = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < until) await call();
  }));
}

export async function benchGatewayEcho(): Promise<void> {
  const upstream = await startEverythingServer();
  const sides: Side[] = [];
  const sample = (): Sample => ({ rates: [], latencies: [], calls: 0, gatehouseCpu: 0, upstreamCpu: 0 });
  const samples = LOADS.map(() => [sample(), sample()] as [Sample, Sample]);
  let cpuKnown = processCpuSeconds(upstream.pid) !== undefined;
  try {
    const gatehouse = await startServerProcess<Started>('./gatehouse-gateway-server.ts', [upstream.mcpUrl], CPU_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROFILE_DIR}`] : []);
    const viaGatehouse = await openSession(gatehouse.started, `${UPSTREAM_NAME}__echo`).catch(async (error: unknown) => {
      await gatehouse.close();
      throw error;
    });
    sides.push({
      label: 'gatehouse (authenticated)',
      call: viaGatehouse.call,
      gatehousePid: gatehouse.pid,
      async close() {
        await viaGatehouse.client.close();
        await gatehouse.close();
      },
    });
    const direct = await openSession({ mcpUrl: upstream.mcpUrl }, 'echo');
    sides.push({ label: 'direct, no Gatehouse', call: direct.call, close: () => direct.client.close() });

    for (let warmed = 0; warmed < WARMUP_SECONDS; warmed += WARMUP_SLICE_SECONDS) {
      for (const side of sides) await load(side.call, Math.min(WARMUP_SLICE_SECONDS, WARMUP_SECONDS - warmed), CONCURRENCY);
    }
    for (const [load, { inFlight, callsPerRound }] of LOADS.entries()) {
      for (let round = 0; round < ROUNDS; round += 1) {
        for (let i = 0; i < sides.length; i += 1) {
          const s = (round + i) % sides.length;
          const side = sides[s]!;
          const cpu = () => [side.gatehousePid === undefined ? 0 : processCpuSeconds(side.gatehousePid), processCpuSeconds(upstream.pid)];
          const before = cpu();
          const { rate, latencies } = await measure(side.call, callsPerRound, inFlight);
          const after = cpu();
          const into = samples[load]![s]!;
          into.rates.push(rate);
          into.latencies.push(...latencies);
          into.calls += callsPerRound;
          if ([...before, ...after].some((seconds) => seconds === undefined)) cpuKnown = false;
          into.gatehouseCpu += after[0]! - before[0]!;
          into.upstreamCpu += after[1]! - before[1]!;
        }
      }
    }
  } finally {
    for (const side of sides) await side.close();
    await upstream.close();
  }

  const ms = (value: number) => `${value.toFixed(2).padStart(7)} ms`;
  console.log(`gateway tools/call echo: server-everything over Streamable HTTP, through Gatehouse vs direct`);
  console.log(`  (after ${WARMUP_SECONDS} s of load per side; ${ROUNDS} rounds per load, sides alternating; rates: medians over rounds; latency quantiles over every call;`);
  console.log('   CPU per call: user + system time of each server process during its side\'s rounds, over their calls)');
  for (const [load, { inFlight, callsPerRound }] of LOADS.entries()) {
    const [gatehouse, direct] = samples[load]!;
    const ratios = gatehouse.rates.map((rate, round) => rate / direct.rates[round]!);
    const ratio = median(ratios);
    const p50 = [median(gatehouse.latencies), median(direct.latencies)] as const;
    const p99 = [quantile(gatehouse.latencies, 0.99), quantile(direct.latencies, 0.99)] as const;
    console.log(`  ${inFlight} in flight, ${callsPerRound} calls per round`);
    sides.forEach((side, s) => {
      console.log(`    ${side.label.padEnd(26)} ${median(samples[load]![s]!.rates).toFixed(0).padStart(6)} calls/s   p50 ${ms(p50[s]!)}   p99 ${ms(p99[s]!)}`);
    });
    const ratioNote = inFlight === CONCURRENCY ? `   (target ≥ ${TARGET_RATIO})${ratio >= TARGET_RATIO ? '' : '   BELOW TARGET'}` : '';
    const addedP50 = p50[0] - p50[1];
    const latencyNote = inFlight === 1 ? `   (target ≤ ${TARGET_ADDED_P50_MS} ms)${addedP50 <= TARGET_ADDED_P50_MS ? '' : '   ABOVE TARGET'}` : '';
    console.log(`    ratio gatehouse/direct     ${ratio.toFixed(3)}${ratioNote}   middle half of per-round ratios ${quantile(ratios, 0.25).toFixed(2)}–${quantile(ratios, 0.75).toFixed(2)}`);
    console.log(`    added by gatehouse         p50 ${ms(addedP50)}   p99 ${ms(p99[0] - p99[1])}${latencyNote}`);
    if (cpuKnown) {
      const perCall = (seconds: number, calls: number) => `${((seconds * 1000) / calls).toFixed(2)} ms`;
      console.log(`    CPU per call               gatehouse process ${perCall(gatehouse.gatehouseCpu, gatehouse.calls)};`
        + ` upstream ${perCall(gatehouse.upstreamCpu, gatehouse.calls)} via gatehouse, ${perCall(direct.upstreamCpu, direct.calls)} direct`);
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchGatewayEcho();
}
