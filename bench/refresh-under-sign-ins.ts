/**
 * Sign-ins and the token endpoint at once, at bcrypt cost 12, with one hashing thread running
 * bcryptjs (what Gatehouse had), one running native bcrypt, and the default pool (one native
 * thread per core, at the lowest OS priority), in one run, alternating:
 * - refresh-token grant p50/p99 with no sign-ins, then while 20 sign-ins run concurrently; their
 *   p99 ratio shows whether hashing stalls token signing (target ≤ 1.5);
 * - sign-ins per second with nothing else running (target: ≥ 2× one bcryptjs thread), and how
 *   much of that is native bcrypt and how much every core;
 * - the server's CPU per refresh and per sign-in (the server runs in a process of its own, so its
 *   CPU time, hashing threads included, is read alone; steadier than rates on a shared machine),
 *   the cores it got while sign-ins ran, and how long its main thread waited for a CPU per grant
 *   (run-queue-wait-seconds.ts): the delay hashing adds to the event loop, measured directly.
 * Each figure is the median over rounds; the machine's load average is printed, as other work on
 * it moves every rate.
 *
 * Run: npx tsx bench/refresh-under-sign-ins.ts   (or `npm run bench` for every benchmark)
 *      BENCH_ROUNDS (default 2), BENCH_SAMPLES refreshes per phase (500), BENCH_SECONDS of sign-ins alone (8),
 *      BENCH_CPU_PROF_DIR: the server writes CPU profiles there, a folder per setup and round
 */
import { availableParallelism, loadavg } from 'node:os';
import { Browser } from '../test/helpers/browser.ts';
import { authorizeUrl, connect, redeem, refresh, registerClient, signIn, type RegisteredClient } from '../test/helpers/oauth-flow.ts';
import { createPkce } from '../test/helpers/pkce.ts';
import { ADMIN_PASSWORD } from '../test/helpers/start-auth-server.ts';
import { processCpuSeconds } from './process-cpu-seconds.ts';
import { runQueueWaitSeconds } from './run-queue-wait-seconds.ts';
import { startServerProcess } from './start-server-process.ts';

const SIGN_INS = 20;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 500);
const SIGN_IN_SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const RESOURCE = 'http://localhost:4001/mcp';

interface Setup {
  label: string;
  /** password_hash_threads; undefined: the default. */
  threads?: number;
  /** 'bcryptjs': hash with bcryptjs alone (what Gatehouse had); default: native bcrypt. */
  engine?: 'bcryptjs';
}

interface Round {
  idle: number[];
  loaded: number[];
  signInsPerSecond: number;
  /** Sign-ins per second while the loaded refreshes ran. */
  signInsPerSecondLoaded: number;
  cpuMsPerRefresh: number;
  cpuMsPerSignIn: number;
  /** Server CPU time per wall-clock second while sign-ins ran alone: the cores it got. */
  coresDuringSignIns: number;
  /** How long the server's main thread waited for a CPU, per grant, with no sign-ins and during them. */
  waitMsPerRefreshIdle: number;
  waitMsPerRefreshLoaded: number;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const median = (values: number[]) => percentile(values, 50);
const load = () => loadavg().map((value) => value.toFixed(1)).join(' ');

interface Summary {
  p99Ratio: number;
  signInsPerSecond: number;
}

async function measure(setup: Setup, round: number): Promise<Round> {
  const args = [...(setup.threads ? ['--threads', String(setup.threads)] : []), ...(setup.engine ? ['--engine', setup.engine] : [])];
  const profileDir = process.env.BENCH_CPU_PROF_DIR && `${process.env.BENCH_CPU_PROF_DIR}/${setup.threads ?? 'default'}-threads-${setup.engine ?? 'bcrypt'}-${round}`;
  const server = await startServerProcess<{ issuer: string }>('sign-ins-auth-server.ts', args, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
  const { issuer } = server.started;
  const cpu = () => processCpuSeconds(server.pid) ?? Number.NaN;
  const wait = () => runQueueWaitSeconds(server.pid) ?? Number.NaN;
  try {
    const client: RegisteredClient = await registerClient(issuer);
    const login = { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD };
    let refreshToken = (await redeem(issuer, client, await connect(issuer, login))).body.refresh_token as string;

    const sampleRefreshes = async (count: number) => {
      const latencies: number[] = [];
      for (let i = 0; i < count; i += 1) {
        const started = performance.now();
        const response = await refresh(issuer, client, refreshToken);
        latencies.push(performance.now() - started);
        if (response.status !== 200) throw new Error(`refresh failed: ${JSON.stringify(response.body)}`);
        refreshToken = response.body.refresh_token as string;
      }
      return latencies;
    };

    await sampleRefreshes(50); // warm-up
    let cpuBefore = cpu();
    let waitBefore = wait();
    const idle = await sampleRefreshes(SAMPLES);
    const cpuMsPerRefresh = ((cpu() - cpuBefore) * 1000) / SAMPLES;
    const waitMsPerRefreshIdle = ((wait() - waitBefore) * 1000) / SAMPLES;

    let running = true;
    let signIns = 0;
    const signInLoop = async () => {
      while (running) {
        const browser = new Browser(issuer);
        const page = await browser.navigate(authorizeUrl(issuer, login, createPkce().challenge));
        const consent = await signIn(browser, page, 'admin', ADMIN_PASSWORD);
        if (!consent.html.includes('name="decision"')) throw new Error(`sign-in failed under load (${consent.status})`);
        signIns += 1;
      }
    };
    const loops = Array.from({ length: SIGN_INS }, signInLoop);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1000)); // let the sign-ins pile up
      // Sign-ins alone.
      let counted = signIns;
      cpuBefore = cpu();
      let started = performance.now();
      await new Promise((resolve) => setTimeout(resolve, SIGN_IN_SECONDS * 1000));
      const signInsAlone = signIns - counted;
      const seconds = (performance.now() - started) / 1000;
      const signInsPerSecond = signInsAlone / seconds;
      const cpuMsPerSignIn = ((cpu() - cpuBefore) * 1000) / signInsAlone;
      const coresDuringSignIns = (cpu() - cpuBefore) / seconds;
      // Refreshes while they go on.
      counted = signIns;
      started = performance.now();
      waitBefore = wait();
      const loaded = await sampleRefreshes(SAMPLES);
      const waitMsPerRefreshLoaded = ((wait() - waitBefore) * 1000) / SAMPLES;
      const signInsPerSecondLoaded = (signIns - counted) / ((performance.now() - started) / 1000);
      return {
        idle, loaded, signInsPerSecond, signInsPerSecondLoaded, cpuMsPerRefresh, cpuMsPerSignIn, coresDuringSignIns,
        waitMsPerRefreshIdle, waitMsPerRefreshLoaded,
      };
    } finally {
      running = false;
      await Promise.all(loops);
    }
  } finally {
    await server.close();
  }
}

export async function benchRefreshUnderSignIns(): Promise<void> {
  const setups: Setup[] = [
    { label: '1 hashing thread, bcryptjs (what Gatehouse had)', threads: 1, engine: 'bcryptjs' },
    { label: '1 hashing thread, native bcrypt', threads: 1 },
    { label: `${availableParallelism()} threads, native bcrypt (default)` },
  ];
  const rounds = new Map<Setup, Round[]>(setups.map((setup) => [setup, []]));
  const loadBefore = load();
  for (let round = 0; round < ROUNDS; round += 1) {
    // Alternate which goes first, so a neighbour's burst does not always hit the same one.
    for (const setup of round % 2 === 0 ? setups : [...setups].reverse()) rounds.get(setup)!.push(await measure(setup, round));
  }

  console.log(`sign-ins at bcrypt cost 12 and refresh-token grants (${ROUNDS} rounds, medians; ${SAMPLES} sequential grants per phase, ${SIGN_INS} concurrent sign-ins)`);
  console.log(`  load average before ${loadBefore}, after ${load()} (${availableParallelism()} cores)`);
  const ms = (value: number) => `${value.toFixed(1).padStart(6)} ms`;
  const summary = new Map<Setup, Summary>();
  for (const setup of setups) {
    const results = rounds.get(setup)!;
    const of = (pick: (r: Round) => number) => median(results.map(pick));
    const p99Ratio = of((r) => percentile(r.loaded, 99) / percentile(r.idle, 99));
    summary.set(setup, { p99Ratio, signInsPerSecond: of((r) => r.signInsPerSecond) });
    console.log(`  ${setup.label}`);
    console.log(`    refresh, no sign-ins        p50 ${ms(of((r) => percentile(r.idle, 50)))}   p99 ${ms(of((r) => percentile(r.idle, 99)))}   server CPU ${of((r) => r.cpuMsPerRefresh).toFixed(2)} ms/grant`);
    console.log(`    refresh, ${SIGN_INS} sign-ins running  p50 ${ms(of((r) => percentile(r.loaded, 50)))}   p99 ${ms(of((r) => percentile(r.loaded, 99)))}   p99 ratio ${p99Ratio.toFixed(2)}`);
    console.log(`    main thread waited for a CPU ${of((r) => r.waitMsPerRefreshIdle).toFixed(2)} ms/grant with no sign-ins, ${of((r) => r.waitMsPerRefreshLoaded).toFixed(2)} ms/grant during them`);
    console.log(`    sign-ins alone ${of((r) => r.signInsPerSecond).toFixed(1)}/s (server CPU ${of((r) => r.cpuMsPerSignIn).toFixed(0)} ms/sign-in, hashing included; the server got ${of((r) => r.coresDuringSignIns).toFixed(2)} cores); while refreshing ${of((r) => r.signInsPerSecondLoaded).toFixed(1)}/s`);
  }
  const [before, oneNative, pool] = setups.map((setup) => summary.get(setup)!) as [Summary, Summary, Summary];
  console.log(`  default pool: refresh p99 during sign-ins / idle = ${pool.p99Ratio.toFixed(2)} (target ≤ 1.5; one thread ${before.p99Ratio.toFixed(2)})`);
  console.log(`  default pool: sign-ins/s vs one bcryptjs thread (what Gatehouse had) = ${(pool.signInsPerSecond / before.signInsPerSecond).toFixed(2)}× (target ≥ 2)`);
  console.log(`    of which every core: ${(pool.signInsPerSecond / oneNative.signInsPerSecond).toFixed(2)}× one native thread; native bcrypt: ${(oneNative.signInsPerSecond / before.signInsPerSecond).toFixed(2)}× bcryptjs`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchRefreshUnderSignIns();
}
