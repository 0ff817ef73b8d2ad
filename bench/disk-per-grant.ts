/**
 * Bytes on disk per issued-and-refreshed grant, and whether refresh throughput and memory stay
 * flat as grants pile up (issue 15 point 5: ≤ 2 KB per grant after 10k grants).
 *
 * The real auth-server (apps/auth-server/src/main.ts, SQLite in a temp dir) runs in a process of
 * its own. Grants come from the real flow: CLIENTS clients register by DCR; browsers sign in
 * (one sign-in per GRANTS_PER_SESSION grants), and each (browser, client) pair authorizes,
 * approves the consent page, redeems its code and refreshes once: one grant (the session's grant
 * for that client). Sessions and clients are shared, as they are in use; grants are what grows.
 *
 * At each checkpoint (1k, 10k grants by default) it prints bytes on disk per grant (database +
 * WAL after a TRUNCATE checkpoint taken from this process) with the share of each table and
 * index and the RSS of the server that made the grants, then refresh grants/s on 8 chains for a
 * few seconds and the CPU per refresh, measured on a copy of the database served by a process of
 * its own: those refreshes rotate tokens, and each leaves a consumed token behind until it
 * expires, so refreshing on the database itself put the refreshes of one checkpoint into the
 * bytes of the next (10k grants after a 1k checkpoint at about 700 refreshes/s held 31,814
 * refresh tokens, not 20,000: 2,244 B/grant swept, where 10k grants alone take less).
 * Each checkpoint is measured twice: as it lies, the used authorization codes of the last minute
 * or two included (they expire 60 s after they were issued, and the sweeper runs once a minute);
 * then once the last of them expired and the next sweep deleted them and gave their pages back
 * (sql-database.ts `releaseFreePages`). The second is what 10k grants leave: in use, codes live a
 * minute, and a database that reached 10k grants at any realistic pace holds a minute's worth.
 *
 * Flat from the first checkpoint to the last (1k to 100k with BENCH_GRANTS=1000,100000): one
 * checkpoint measured alone swung by a third from run to run on this VM, so the processes serving
 * the first and the last checkpoint's copies are kept, and at the end they and the server that
 * made the grants take turns for BENCH_FLAT_ROUNDS rounds each (default 6): the ratios of their
 * refresh rates and of their CPU per refresh, in one run.
 *
 * Run: npx tsx bench/disk-per-grant.ts   (BENCH_GRANTS=1000,10000,100000 for more checkpoints;
 * BENCH_SECONDS per refresh round and BENCH_RATE_ROUNDS, default 3;
 * BENCH_KEEP_DB=<file> keeps a copy of the database as it was at the last checkpoint, to look into)
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { Browser } from '../test/helpers/browser.ts';
import { connect, redeem, refresh, registerClient, type RegisteredClient } from '../test/helpers/oauth-flow.ts';
import { freePort } from '../test/helpers/net.ts';
import { freshSetup, kill, runApp, waitForOk, type RunningProcess } from '../test/ops/support/processes.ts';
import { modelName, storedModel } from '../apps/auth-server/src/provider/stored-model.ts';
import { processCpuSeconds } from './process-cpu-seconds.ts';

const CHECKPOINTS = (process.env.BENCH_GRANTS ?? '1000,10000').split(',').map(Number);
const CLIENTS = 100;
/** Grants per browser session: a session records every client it authorized, so it grows with them. */
const GRANTS_PER_SESSION = 20;
const CONCURRENCY = 8;
const RATE_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
/** Measured rounds of RATE_SECONDS at each checkpoint: a single round on this VM swung by a third. */
const RATE_ROUNDS = Number(process.env.BENCH_RATE_ROUNDS ?? 3);
/** Rounds per side of the interleaved first-against-last comparison. */
const FLAT_ROUNDS = Number(process.env.BENCH_FLAT_ROUNDS ?? 6);
const PASSWORD = 'disk per grant bench password';
const CALLBACK = 'http://127.0.0.1:33418/callback';

interface Chain {
  client: RegisteredClient;
  refreshToken: string;
}

/** The server's resident set size, from /proc (NaN where there is none). */
function rssBytes(pid: number): number {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return NaN;
  }
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : NaN;
}

/**
 * The server's read and write system calls and bytes written so far (/proc/<pid>/io: every file
 * and socket, every thread), NaN where there is none. Counts, unlike CPU time, do not move with
 * what else the machine runs: the same figures per refresh mean the same work per refresh.
 */
function ioCounts(pid: number): { readCalls: number; writeCalls: number; writtenBytes: number } {
  let io = '';
  try {
    io = readFileSync(`/proc/${pid}/io`, 'utf8');
  } catch {
    return { readCalls: NaN, writeCalls: NaN, writtenBytes: NaN };
  }
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN);
  return { readCalls: field('syscr'), writeCalls: field('syscw'), writtenBytes: field('wchar') };
}

/** Bytes of the database file and its WAL after a TRUNCATE checkpoint, and pages per table/index. */
function diskUsage(file: string): { total: number; wal: number; freePages: number; byObject: Array<{ name: string; bytes: number; unused: number }>; rowsByModel: Array<{ model: string; rows: number; payloadBytes: number }> } {
  if (!existsSync(file)) throw new Error(`no database at ${file}`);
  const db = new Database(file);
  try {
    db.pragma('busy_timeout = 5000');
    db.pragma('wal_checkpoint(TRUNCATE)');
    // `unused`: bytes of those pages that hold nothing (free space left by rows that shrank or went).
    const byObject = db.prepare('SELECT name, sum(pgsize) AS bytes, sum(unused) AS unused FROM dbstat GROUP BY name ORDER BY bytes DESC').all() as Array<{ name: string; bytes: number; unused: number }>;
    const rowsByModel = db.prepare('SELECT model, count(*) AS rows, sum(length(payload)) AS payloadBytes FROM oidc_models GROUP BY model ORDER BY rows DESC').all() as Array<{ model: string; rows: number; payloadBytes: number }>;
    const size = (path: string) => (existsSync(path) ? statSync(path).size : 0);
    // Shown apart, as they swing from run to run: the WAL (a checkpoint the server's own writes
    // kept from truncating), and the free pages a sweep just left (expired codes deleted in bulk;
    // the next minute's rows reuse them).
    const freePages = (db.pragma('freelist_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
    return { total: size(file) + size(`${file}-wal`), wal: size(`${file}-wal`), freePages, byObject, rowsByModel: rowsByModel.map((m) => ({ ...m, model: modelName(m.model) })) };
  } finally {
    db.close();
  }
}

function printUsage(label: string, usage: ReturnType<typeof diskUsage>, grants: number): void {
  const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  console.log(`  ${label} ${(usage.total / grants).toFixed(0).padStart(5)} B/grant (${mib(usage.total)} MiB, of which WAL ${mib(usage.wal)} MiB, free pages ${mib(usage.freePages)} MiB)`);
  console.log(`    by table/index (B/grant, of which unused): ${usage.byObject.slice(0, 9).map((o) => `${o.name} ${(o.bytes / grants).toFixed(0)} (${(o.unused / grants).toFixed(0)})`).join(', ')}`);
  console.log(`    oidc_models rows: ${usage.rowsByModel.map((m) => `${m.model} ${m.rows} (payload ${(m.payloadBytes / Math.max(1, m.rows)).toFixed(0)} B)`).join(', ')}`);
}

/**
 * Waits (reading the file, as the server's sweeper runs on its own minute) until no authorization
 * code is left and the sweep that deleted them released its free pages; returns the seconds waited.
 */
async function waitForCodesSwept(file: string): Promise<number> {
  const started = performance.now();
  const db = new Database(file, { readonly: true });
  try {
    db.pragma('busy_timeout = 5000');
    const codes = db.prepare(`SELECT count(*) AS n FROM oidc_models WHERE model = '${storedModel('AuthorizationCode')}'`).pluck();
    for (;;) {
      if (performance.now() - started > 5 * 60_000) throw new Error('the codes were not swept within 5 minutes');
      if (codes.get() === 0 && db.pragma('freelist_count', { simple: true }) === 0) return (performance.now() - started) / 1000;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  } finally {
    db.close();
  }
}

/** Authorize → (consent) → code → token → one refresh, through the real pages and endpoints. */
async function newGrant(issuer: string, browser: Browser, client: RegisteredClient, resource: string): Promise<Chain> {
  const result = await connect(issuer, { clientId: client.client_id, redirectUri: CALLBACK, scope: 'mcp:read', resource, username: 'admin', password: PASSWORD, browser });
  const tokens = await redeem(issuer, client, result);
  if (tokens.status !== 200) throw new Error(`code exchange failed: ${JSON.stringify(tokens.body)}`);
  const refreshed = await refresh(issuer, client, tokens.body.refresh_token as string);
  if (refreshed.status !== 200) throw new Error(`refresh failed: ${JSON.stringify(refreshed.body)}`);
  return { client, refreshToken: refreshed.body.refresh_token as string };
}

interface Round {
  rate: number;
  cpuMs: number;
  /** Per refresh: the server's read and write system calls, and bytes written (ioCounts). */
  readCalls: number;
  writeCalls: number;
  writtenBytes: number;
}

/**
 * Refreshes on the first CONCURRENCY of `chains` for `seconds`, each lane rotating its own token
 * (every answer checked); the rate and the server's CPU per refresh.
 */
async function refreshRound(issuer: string, pid: number, chains: Chain[], seconds: number): Promise<Round> {
  const cpuBefore = processCpuSeconds(pid) ?? NaN;
  const ioBefore = ioCounts(pid);
  const started = performance.now();
  const until = Date.now() + seconds * 1000;
  let count = 0;
  await Promise.all(chains.slice(0, CONCURRENCY).map(async (chain) => {
    while (Date.now() < until) {
      const response = await refresh(issuer, chain.client, chain.refreshToken);
      if (response.status !== 200) throw new Error(`refresh failed: ${JSON.stringify(response.body)}`);
      chain.refreshToken = response.body.refresh_token as string;
      count += 1;
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  const cpu = (processCpuSeconds(pid) ?? NaN) - cpuBefore;
  const io = ioCounts(pid);
  return {
    rate: count / elapsed,
    cpuMs: (cpu / count) * 1000,
    readCalls: (io.readCalls - ioBefore.readCalls) / count,
    writeCalls: (io.writeCalls - ioBefore.writeCalls) / count,
    writtenBytes: (io.writtenBytes - ioBefore.writtenBytes) / count,
  };
}

/** Warm-up: the server sat idle while the sweep was awaited; after that wait, 1 s of warm-up
 * measured 469/s at 1k grants against 783/s straight after the grants were made. */
const WARMUP_SECONDS = 5;

/** RATE_ROUNDS rounds of RATE_SECONDS after the warm-up. */
async function refreshRates(issuer: string, pid: number, chains: Chain[]): Promise<Round[]> {
  await refreshRound(issuer, pid, chains, WARMUP_SECONDS);
  const rounds: Round[] = [];
  for (let round = 0; round < RATE_ROUNDS; round += 1) rounds.push(await refreshRound(issuer, pid, chains, RATE_SECONDS));
  return rounds;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const formatRounds = (rounds: Round[]) => rounds.map((r) => `${r.rate.toFixed(0)}/s ${r.cpuMs.toFixed(2)} ms`).join(', ');

interface Served {
  label: string;
  issuer: string;
  pid: number;
  chains: Chain[];
  rounds: Round[];
}

/**
 * Refresh throughput of the servers in `sides` against the first, in one run: they take turns,
 * FLAT_ROUNDS rounds each, the order rotating every round, so the machine's drift (a checkpoint
 * measured alone swung by a third from run to run) hits them alike. Each ratio is the median of
 * the per-round ratios. Beside them, each server's system calls and bytes written per refresh:
 * on a shared machine the rates and CPU times of one server swing by a quarter within a run, the
 * counts do not, so equal counts show equal work where the rates cannot.
 */
async function compareInterleaved(sides: Served[]): Promise<void> {
  // Some processes are new: V8 keeps optimizing a server's hot code for its first ~20 s under
  // load (bench/refresh-grants.ts), so each gets 20 s, in slices that take turns.
  for (let slice = 0; slice < 4; slice += 1) {
    for (const side of sides) await refreshRound(side.issuer, side.pid, side.chains, WARMUP_SECONDS);
  }
  const ratios = sides.map((): number[] => []);
  for (let round = 0; round < FLAT_ROUNDS; round += 1) {
    const order = sides.map((_, i) => sides[(i + round) % sides.length]!);
    for (const side of order) side.rounds.push(await refreshRound(side.issuer, side.pid, side.chains, RATE_SECONDS));
    sides.forEach((side, i) => ratios[i]!.push(side.rounds.at(-1)!.rate / sides[0]!.rounds.at(-1)!.rate));
  }
  console.log(`refresh throughput, interleaved in one run (${FLAT_ROUNDS} rounds of ${RATE_SECONDS} s each, the order rotating):`);
  const cpuMs = (side: Served) => median(side.rounds.map((r) => r.cpuMs));
  sides.forEach((side, i) => {
    const ratio = i === 0 ? '' : `   against the first: throughput ${median(ratios[i]!).toFixed(3)} (per round ${ratios[i]!.map((r) => r.toFixed(2)).join(', ')}), CPU per refresh ${(cpuMs(side) / cpuMs(sides[0]!)).toFixed(3)}`;
    console.log(`  ${side.label}: ${median(side.rounds.map((r) => r.rate)).toFixed(0)}/s, ${cpuMs(side).toFixed(2)} ms CPU/refresh (medians), RSS ${(rssBytes(side.pid) / 1024 / 1024).toFixed(0)} MiB${ratio}`);
    const io = (pick: (round: Round) => number) => median(side.rounds.map(pick));
    console.log(`    per refresh (medians): ${io((r) => r.readCalls).toFixed(2)} read and ${io((r) => r.writeCalls).toFixed(2)} write system calls, ${(io((r) => r.writtenBytes) / 1024).toFixed(1)} KiB written`);
    console.log(`    rounds: ${formatRounds(side.rounds)}`);
  });
}

/** Stops a server process: SIGTERM, then SIGKILL after 10 s (a no-op on one already stopped). */
async function stop(proc: RunningProcess): Promise<void> {
  proc.signal('SIGTERM');
  await Promise.race([proc.exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  kill(proc);
}

/** A consistent copy of a live database (SQLite's online backup) in a directory of its own. */
async function copyDatabase(file: string, copy: string): Promise<void> {
  mkdirSync(dirname(copy), { recursive: true, mode: 0o700 });
  const live = new Database(file, { readonly: true });
  await live.backup(copy).finally(() => live.close());
}

export async function benchDiskPerGrant(): Promise<void> {
  const setup = await freshSetup({ BOOTSTRAP_ADMIN_PASSWORD: PASSWORD, LOG_LEVEL: 'warn' });
  const configFile = join(setup.dir, 'gatehouse.yaml');
  writeFileSync(configFile, [
    'auth_server:',
    '  bcrypt_cost: 10',
    '  rate_limits: { enabled: false }',
    // Concurrent sign-ins of one user from one address count as attempts until each succeeds.
    '  sign_in_throttle: { max_failures: 1000, max_failures_per_ip: 100000 }',
  ].join('\n'));
  const server = runApp('auth-server', { ...setup.env, GATEHOUSE_CONFIG: configFile });
  const copyServers: RunningProcess[] = [];
  /** Serves a copy of the database with a process of its own (the same keys and config, a port of its own). */
  const serveCopy = async (copyFile: string): Promise<{ issuer: string; proc: RunningProcess }> => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const proc = runApp('auth-server', { ...setup.env, GATEHOUSE_CONFIG: configFile, DATA_DIR: dirname(copyFile), AUTH_PORT: String(port), ISSUER: issuer });
    copyServers.push(proc);
    await waitForOk(`${issuer}/healthz`, { proc, timeoutMs: 60_000 });
    return { issuer, proc };
  };
  try {
    await waitForOk(`${setup.issuer}/healthz`, { proc: server, timeoutMs: 60_000 });
    const pid = server.child.pid!;
    const file = join(setup.env.DATA_DIR!, 'auth-server.db');
    const clients: RegisteredClient[] = [];
    for (let i = 0; i < CLIENTS; i += 1) {
      clients.push(await registerClient(setup.issuer, { client_name: `bench ${i}`, redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] }));
    }
    console.log(`bytes on disk per issued-and-refreshed grant (real auth-server process, SQLite; ${CLIENTS} clients, a new browser session every ${GRANTS_PER_SESSION} grants)`);
    const chains: Chain[] = [];
    // One browser per worker (concurrent authorizations in one browser session would overwrite
    // each other's session record); a fresh one (a new sign-in, in the first grant's flow) every
    // GRANTS_PER_SESSION grants, never authorizing the same client twice in one session (that
    // would reuse the session's grant).
    const workers = Array.from({ length: CONCURRENCY }, () => ({ browser: new Browser(setup.issuer), made: 0 }));
    let next = 0;
    /** The copies kept for the interleaved comparison, and their files. */
    const kept: Served[] = [];
    const keptFiles: string[] = [];
    for (const target of CHECKPOINTS) {
      await Promise.all(workers.map(async (worker) => {
        while (next < target) {
          next += 1;
          if (worker.made % GRANTS_PER_SESSION === 0) worker.browser = new Browser(setup.issuer);
          const client = clients[worker.made % CLIENTS]!;
          worker.made += 1;
          chains.push(await newGrant(setup.issuer, worker.browser, client, setup.mcpUrl));
        }
      }));
      printUsage(`${String(target).padStart(6)} grants, as it lies:`, diskUsage(file), target);
      const waited = await waitForCodesSwept(file);
      const usage = diskUsage(file);
      if (process.env.BENCH_KEEP_DB) await copyDatabase(file, process.env.BENCH_KEEP_DB);
      printUsage(`${String(target).padStart(6)} grants, swept (${waited.toFixed(0)} s later):`, usage, target);
      // The refreshes run on a copy (see the header), with copies of the chains' tokens: the
      // server that made the grants keeps its own for the interleaved comparison at the end.
      const copyFile = join(setup.dir, `checkpoint-${target}`, 'auth-server.db');
      await copyDatabase(file, copyFile);
      const copy = await serveCopy(copyFile);
      const copyChains = chains.slice(0, CONCURRENCY).map((chain) => ({ ...chain }));
      const rounds = await refreshRates(copy.issuer, copy.proc.child.pid!, copyChains);
      const middle = [...rounds].sort((a, b) => a.rate - b.rate)[Math.floor(rounds.length / 2)]!;
      console.log(`    refresh on a copy: ${middle.rate.toFixed(0)}/s, ${middle.cpuMs.toFixed(2)} ms CPU/refresh (median of ${rounds.length} rounds: ${formatRounds(rounds)});   RSS of the server that made the grants ${(rssBytes(pid) / 1024 / 1024).toFixed(0)} MiB`);
      if (CHECKPOINTS.length > 1 && (target === CHECKPOINTS[0] || target === CHECKPOINTS.at(-1))) {
        kept.push({ label: `${target} grants, fresh process`, issuer: copy.issuer, pid: copy.proc.child.pid!, chains: copyChains, rounds: [] });
        keptFiles.push(copyFile);
      } else {
        await stop(copy.proc);
      }
    }
    if (kept.length > 0) {
      // Codes issued on the copies since they were served expired meanwhile: every side is
      // measured as swept.
      for (const keptFile of [...keptFiles, file]) await waitForCodesSwept(keptFile);
      kept.push({ label: `${CHECKPOINTS.at(-1)} grants, the process that made them`, issuer: setup.issuer, pid, chains, rounds: [] });
      await compareInterleaved(kept);
    }
  } finally {
    for (const proc of [server, ...copyServers]) await stop(proc);
    rmSync(setup.dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchDiskPerGrant();
}
