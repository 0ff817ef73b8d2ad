/**
 * Token endpoint latency while people sign in: p50 and p99 of refresh-token grants with no
 * sign-ins, then while 20 concurrent sign-ins (bcrypt cost 12) run, in one run. bcrypt runs on a
 * worker thread, so the ratio of the two p99s shows whether hashing stalls token signing.
 *
 * Run: npx tsx bench/refresh-under-sign-ins.ts   (or `npm run bench` for every benchmark)
 */
import { Browser } from '../test/helpers/browser.ts';
import { authorizeUrl, connect, redeem, refresh, registerClient, signIn } from '../test/helpers/oauth-flow.ts';
import { createPkce } from '../test/helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer } from '../test/helpers/start-auth-server.ts';

const SIGN_INS = 20;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 1000);
const RESOURCE = 'http://localhost:4001/mcp';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function benchRefreshUnderSignIns(): Promise<void> {
  const server = await startAuthServer({
    configure(config) {
      config.authServer.bcryptCost = 12;
      config.authServer.signInThrottle.maxFailuresPerIp = 1_000_000;
    },
  });
  try {
    const client = await registerClient(server.issuer);
    const login = { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD };
    let refreshToken = (await redeem(server.issuer, client, await connect(server.issuer, login))).body.refresh_token as string;

    const sampleRefreshes = async (count: number) => {
      const latencies: number[] = [];
      for (let i = 0; i < count; i += 1) {
        const started = performance.now();
        const response = await refresh(server.issuer, client, refreshToken);
        latencies.push(performance.now() - started);
        if (response.status !== 200) throw new Error(`refresh failed: ${JSON.stringify(response.body)}`);
        refreshToken = response.body.refresh_token as string;
      }
      return latencies;
    };

    await sampleRefreshes(50); // warm-up
    const idle = await sampleRefreshes(SAMPLES);

    let running = true;
    let signIns = 0;
    const signInLoop = async () => {
      while (running) {
        const browser = new Browser(server.issuer);
        const page = await browser.navigate(authorizeUrl(server.issuer, login, createPkce().challenge));
        const consent = await signIn(browser, page, 'admin', ADMIN_PASSWORD);
        if (!consent.html.includes('name="decision"')) throw new Error('sign-in failed under load');
        signIns += 1;
      }
    };
    const loops = Array.from({ length: SIGN_INS }, signInLoop);
    await new Promise((resolve) => setTimeout(resolve, 500)); // let the sign-ins pile up
    const signInsBefore = signIns;
    const started = performance.now();
    const loaded = await sampleRefreshes(SAMPLES);
    const seconds = (performance.now() - started) / 1000;
    const signInsDuring = signIns - signInsBefore;
    running = false;
    await Promise.all(loops);

    const row = (label: string, values: number[]) =>
      console.log(`  ${label.padEnd(30)} p50 ${percentile(values, 50).toFixed(1).padStart(6)} ms   p99 ${percentile(values, 99).toFixed(1).padStart(6)} ms`);
    console.log(`refresh-token grant latency, ${SAMPLES} sequential grants each (bcrypt cost 12 on a worker thread)`);
    row('no sign-ins', idle);
    row(`${SIGN_INS} concurrent sign-ins`, loaded);
    console.log(`  sign-ins completed during the loaded window: ${signInsDuring} in ${seconds.toFixed(1)} s (${(signInsDuring / seconds).toFixed(1)}/s; each of the ${SIGN_INS} kept a sign-in queued for bcrypt throughout)`);
    const ratio = percentile(loaded, 99) / percentile(idle, 99);
    console.log(`  p99 under load / p99 idle = ${ratio.toFixed(2)} (target ≤ 2)`);
  } finally {
    await server.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchRefreshUnderSignIns();
}
