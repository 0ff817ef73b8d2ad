/**
 * `tools/call whoami` per second through Gatehouse's whole resource-server path — HTTP over
 * loopback, Koa, bearer check with the revocation list, scope check, the SDK's Streamable HTTP
 * transport, the MCP server, the tool and its audit write — against what a user would otherwise
 * run: a bare MCP SDK server with no authentication (bench/bare-mcp-server.ts). Target: Gatehouse
 * ≥ 0.9 × the bare server (issue 15).
 *
 * - Each server runs in a process of its own (bench/gatehouse-mcp-server.ts,
 *   bench/bare-mcp-server.ts), as it would be deployed. The real MCP SDK client opens each
 *   session (initialize, the initialized notification); the measured calls are then sent as that
 *   transport sends them (POST, session id, protocol version, bearer token) by plain fetch, so one
 *   client process is not the bottleneck that hides what the servers cost. Every answer is checked.
 * - Bounded: ROUNDS rounds of CALLS_PER_ROUND calls per server (after a warm-up), the servers in
 *   alternating order; each rate is the median over rounds, the ratio the median of per-round
 *   ratios. On a shared VM single rounds swing by tens of percent, hence many short rounds.
 *
 * Run: npx tsx bench/mcp-whoami.ts   (BENCH_CONCURRENCY sets the calls in flight, default 16)
 */
import { pathToFileURL } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { median, openMcpSession, quantile, type Started } from './mcp-session.ts';
import { startServerProcess } from './start-server-process.ts';

const WARMUP_CALLS = 1000;
const CALLS_PER_ROUND = 400;
const ROUNDS = 30;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

interface Variant {
  label: string;
  close(): Promise<void>;
  call(): Promise<void>;
  rates: number[];
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
      if (response.status !== 200 || !text.includes('"structuredContent"') || text.includes('"isError":true')) {
        throw new Error(`whoami failed: ${response.status} ${text.slice(0, 200)}`);
      }
    },
  };
}

/** Makes `calls` calls, CONCURRENCY at a time; returns calls per second. */
async function measure(call: () => Promise<void>, calls: number): Promise<number> {
  let remaining = calls;
  const worker = async () => {
    while (remaining > 0) {
      remaining -= 1;
      await call();
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return calls / ((performance.now() - started) / 1000);
}

export async function benchMcpWhoami(): Promise<void> {
  const variants: Variant[] = [];
  try {
    for (const [label, script] of [['gatehouse', './gatehouse-mcp-server.ts'], ['bare', './bare-mcp-server.ts']] as const) {
      const server = await startServerProcess<Started>(script);
      const session = await openSession(server.started);
      variants.push({
        label,
        call: session.call,
        rates: [],
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
        variant.rates.push(await measure(variant.call, CALLS_PER_ROUND));
      }
    }
  } finally {
    for (const variant of variants) await variant.close();
  }

  // Each round measures both servers back to back, so a per-round ratio compares like with like;
  // its median is steadier than the ratio of two medians on a machine whose speed drifts.
  const [gatehouse, bare] = variants.map((variant) => variant.rates) as [number[], number[]];
  const ratios = gatehouse.map((rate, round) => rate / bare[round]!);
  const ratio = median(ratios);
  const format = (rates: number[]) => `${median(rates).toFixed(0).padStart(6)} calls/s`;
  console.log(`mcp tools/call whoami (${ROUNDS} rounds × ${CALLS_PER_ROUND} calls, ${CONCURRENCY} in flight; medians)`);
  console.log(`  gatehouse (authenticated)     ${format(gatehouse)}`);
  console.log(`  bare MCP SDK server, no auth  ${format(bare)}`);
  console.log(`  ratio gatehouse/bare          ${ratio.toFixed(3)}   (target ≥ 0.9)${ratio >= 0.9 ? '' : '   BELOW TARGET'}`);
  console.log(`    middle half of the per-round ratios: ${quantile(ratios, 0.25).toFixed(2)}–${quantile(ratios, 0.75).toFixed(2)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchMcpWhoami();
}
