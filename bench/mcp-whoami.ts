/**
 * `tools/call whoami` per second through the whole resource-server path — HTTP over loopback, Koa,
 * bearer check, scope check, the SDK's Streamable HTTP transport, the MCP server, the tool and its
 * audit write — with the real MCP SDK client, once with authentication and once with it switched
 * off in code, in one run. Target: authenticated ≥ 0.9 × unauthenticated.
 *
 * A third figure, authentication with the token cache off, shows what verifying every token costs.
 *
 * Bounded: ROUNDS rounds of CALLS_PER_ROUND calls per variant (after a warm-up); each rate is the
 * median over rounds, the ratio the median of per-round ratios. Client and servers share this
 * process, as they share the machine in any loopback measurement; every variant pays the same
 * client cost. On a shared VM single rounds swing by tens of percent, hence many short rounds.
 *
 * Run: npx tsx bench/mcp-whoami.ts
 */
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startResourceServer, type RunningResourceServer } from '../test/resource-server/support/start-resource-server.ts';
import { startTestIssuer } from '../test/resource-server/support/test-issuer.ts';

const WARMUP_CALLS = 500;
const CALLS_PER_ROUND = 150;
const ROUNDS = 40;
const CONCURRENCY = 4;

interface Variant {
  label: string;
  server: RunningResourceServer;
  client: Client;
  rates: number[];
}

async function connect(server: RunningResourceServer, token: string | undefined): Promise<Client> {
  const client = new Client({ name: 'bench-mcp-whoami', version: '1.0.0' });
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl), { requestInit: { headers }, fetch: fetchWithoutSharedSignal }));
  return client;
}

/**
 * The SDK client passes one AbortSignal to every fetch; undici adds a listener to it per request
 * and drops it only when the request is garbage-collected, so tens of thousands of back-to-back
 * calls pile up listeners (and a MaxListenersExceededWarning per call) on the client side. The
 * benchmark measures the server, so its client fetches without that signal.
 */
const fetchWithoutSharedSignal: typeof fetch = (input, init) => fetch(input, { ...init, signal: undefined });

/** Makes `calls` whoami calls, CONCURRENCY at a time; returns calls per second. */
async function measure(client: Client, calls: number): Promise<number> {
  let remaining = calls;
  const worker = async () => {
    while (remaining > 0) {
      remaining -= 1;
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      if (result.isError) throw new Error(`whoami failed: ${JSON.stringify(result.content)}`);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return calls / ((performance.now() - started) / 1000);
}

/** The value below which `fraction` of `values` lie (nearest rank). */
function quantile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

const median = (values: number[]) => quantile(values, 0.5);

export async function benchMcpWhoami(): Promise<void> {
  const issuer = await startTestIssuer();
  const token = await issuer.mint({ claims: { scope: 'mcp:read mcp:write mcp:admin' } });
  const variants: Variant[] = [];
  try {
    for (const [label, options, withToken] of [
      ['auth on', {}, true],
      ['auth off', { dangerouslyDisableAuthentication: true }, false],
      ['auth on, token cache off', { config: { tokenCacheSize: 0 } }, true],
    ] as const) {
      const server = await startResourceServer({ issuer: issuer.issuer, ...options });
      variants.push({ label, server, client: await connect(server, withToken ? token : undefined), rates: [] });
    }
    for (const variant of variants) await measure(variant.client, WARMUP_CALLS);
    // Short rounds, each variant in every position in turn, so drift in the machine's speed
    // (other load, GC, CPU frequency) lands on all variants alike; the median drops outliers.
    for (let round = 0; round < ROUNDS; round += 1) {
      for (let i = 0; i < variants.length; i += 1) {
        const variant = variants[(round + i) % variants.length]!;
        variant.rates.push(await measure(variant.client, CALLS_PER_ROUND));
      }
    }
  } finally {
    for (const { client, server } of variants) {
      await client.close();
      await server.close();
    }
    await issuer.close();
  }

  // Each round measures every variant back to back, so a per-round ratio compares like with like;
  // its median is steadier than the ratio of two medians on a machine whose speed drifts.
  const [on, off, uncached] = variants.map((variant) => variant.rates) as [number[], number[], number[]];
  const ratios = on.map((rate, round) => rate / off[round]!);
  const ratio = median(ratios);
  const uncachedRatio = median(uncached.map((rate, round) => rate / off[round]!));
  const format = (rates: number[]) => `${median(rates).toFixed(0).padStart(6)} calls/s`;
  console.log(`mcp tools/call whoami (${ROUNDS} rounds × ${CALLS_PER_ROUND} calls, ${CONCURRENCY} in flight; medians)`);
  console.log(`  auth on                   ${format(on)}`);
  console.log(`  auth off                  ${format(off)}`);
  console.log(`  ratio on/off              ${ratio.toFixed(3)}   (target ≥ 0.9)${ratio >= 0.9 ? '' : '   BELOW TARGET'}`);
  console.log(`    middle half of the per-round ratios: ${quantile(ratios, 0.25).toFixed(2)}–${quantile(ratios, 0.75).toFixed(2)}`);
  console.log(`  auth on, token cache off  ${format(uncached)}   (ratio ${uncachedRatio.toFixed(3)}, for reference)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchMcpWhoami();
}
