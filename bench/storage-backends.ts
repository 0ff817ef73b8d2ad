/**
 * PostgreSQL against SQLite, and two replicas against one, in one run (issue 14's figures):
 *
 * 1. Refresh grants/s through one auth-server on SQLite and one on PostgreSQL (both in this
 *    process, as bench/refresh-grants.ts runs them), rounds interleaved.
 * 2. tools/call whoami/s through one resource server on each backend, each in its own process.
 * 3. Two replicas against one, on PostgreSQL: the processes of test/replicas (two auth-servers,
 *    two resource servers); "one" sends every request to the first replica, "two" alternates
 *    between both, from the same client, rounds interleaved.
 *
 * PostgreSQL is a throwaway local cluster on loopback (scripts/postgres-cluster.mjs) with
 * durability off (fsync, synchronous_commit): a production server on a disk pays a commit flush
 * that SQLite with synchronous=NORMAL does not. Every process shares this machine's cores, the
 * database and the client included, so two replicas cannot double anything here: the figure
 * says what a second replica costs or gains on the same hardware, not on a second machine.
 *
 * Run: npx tsx bench/storage-backends.ts   (or `npm run bench`)
 */
import { pathToFileURL } from 'node:url';
import { Readable } from 'node:stream';
import { startPostgresCluster } from '../scripts/postgres-cluster.mjs';
import { run as runGatehouse } from '../apps/auth-server/src/cli/run.ts';
import { CapturedOutput } from '../test/cli/support/captured-output.ts';
import { connect, redeem, refresh, registerClient, type RegisteredClient } from '../test/helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer } from '../test/helpers/start-auth-server.ts';
import { startReplicaSet } from '../test/replicas/support/replica-set.ts';
import { median, openMcpSession, quantile, type McpSession, type Started } from './mcp-session.ts';
import { startServerProcess } from './start-server-process.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const REFRESHES_PER_ROUND = 300;
const CALLS_PER_ROUND = 400;
const CONCURRENCY = 8;

interface Side {
  label: string;
  /** One unit of work: a refresh grant or a tool call; `lane` tells concurrent workers apart. */
  op(lane: number): Promise<void>;
  rates: number[];
}

/** `count` operations, CONCURRENCY at a time; returns operations per second. */
async function rate(side: Side, count: number): Promise<number> {
  let remaining = count;
  const worker = async (lane: number) => {
    while (remaining > 0) {
      remaining -= 1;
      await side.op(lane);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, (_v, lane) => worker(lane)));
  return count / ((performance.now() - started) / 1000);
}

/** Interleaved rounds of both sides; prints medians and the median per-round ratio b/a. */
async function compare(title: string, unit: string, count: number, a: Side, b: Side, target?: number): Promise<void> {
  await rate(a, count / 2);
  await rate(b, count / 2);
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const side of round % 2 === 0 ? [a, b] : [b, a]) side.rates.push(await rate(side, count));
  }
  const ratios = b.rates.map((value, round) => value / a.rates[round]!);
  const ratio = median(ratios);
  console.log(`${title} (${ROUNDS} rounds × ${count}, ${CONCURRENCY} in flight; medians)`);
  for (const side of [a, b]) console.log(`  ${side.label.padEnd(30)} ${median(side.rates).toFixed(0).padStart(6)} ${unit}`);
  const verdict = target === undefined ? '' : `   (target ≥ ${target})${ratio >= target ? '' : '   BELOW TARGET'}`;
  console.log(`  ratio ${`${b.label}/${a.label}`.padEnd(24)} ${ratio.toFixed(3)}${verdict}`);
  console.log(`    middle half of the per-round ratios: ${quantile(ratios, 0.25).toFixed(2)}–${quantile(ratios, 0.75).toFixed(2)}`);
}

let callId = 0;
/** One tools/call whoami in the session `post` belongs to; throws unless it succeeded. */
async function callWhoami(post: McpSession['post']): Promise<void> {
  const response = await post({ jsonrpc: '2.0', id: ++callId, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
  const text = await response.text();
  if (response.status !== 200 || text.includes('"isError":true')) throw new Error(`whoami failed: ${response.status} ${text.slice(0, 200)}`);
}

/** CONCURRENCY refresh-token chains of one client, each rotating its own token. */
async function refreshChains(issuer: string, username: string, password: string, resource: string, redirectUri?: string) {
  const client: RegisteredClient = await registerClient(issuer, redirectUri ? { client_name: 'bench', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] } : undefined);
  const chains: string[] = [];
  for (let i = 0; i < CONCURRENCY; i += 1) {
    const result = await connect(issuer, { clientId: client.client_id, redirectUri, scope: 'mcp:read', resource, username, password });
    const tokens = await redeem(issuer, client, result);
    chains.push(tokens.body.refresh_token as string);
  }
  return {
    accessToken: async () => {
      const result = await connect(issuer, { clientId: client.client_id, redirectUri, scope: 'mcp:read', resource, username, password });
      return (await redeem(issuer, client, result)).body.access_token as string;
    },
    /** Refreshes chain `lane` at `at` (an issuer URL or a replica's own URL). */
    async refresh(lane: number, at: string) {
      const response = await refresh(at, client, chains[lane]!);
      if (response.status !== 200) throw new Error(`refresh failed: ${JSON.stringify(response.body)}`);
      chains[lane] = response.body.refresh_token as string;
    },
  };
}

async function oneReplicaEachBackend(createDatabase: () => Promise<string>): Promise<void> {
  const RESOURCE = 'http://localhost:4001/mcp';
  const sqlite = await startAuthServer({ backend: 'sqlite' });
  const postgres = await startAuthServer({ databaseUrl: await createDatabase() });
  try {
    const onSqlite = await refreshChains(sqlite.issuer, 'admin', ADMIN_PASSWORD, RESOURCE);
    const onPostgres = await refreshChains(postgres.issuer, 'admin', ADMIN_PASSWORD, RESOURCE);
    await compare('refresh grants/s, one auth-server', 'grants/s', REFRESHES_PER_ROUND,
      { label: 'SQLite', op: (lane) => onSqlite.refresh(lane, sqlite.issuer), rates: [] },
      { label: 'PostgreSQL', op: (lane) => onPostgres.refresh(lane, postgres.issuer), rates: [] },
      0.7);
  } finally {
    await sqlite.close();
    await postgres.close();
  }

  const servers = [
    await startServerProcess<Started>('./gatehouse-mcp-server.ts'),
    await startServerProcess<Started>('./gatehouse-mcp-server.ts', ['--database-url', await createDatabase()]),
  ];
  try {
    const sides = await Promise.all(servers.map(async (server, i) => {
      const { post } = await openMcpSession(server.started, 'bench-storage-backends');
      return { label: i === 0 ? 'SQLite' : 'PostgreSQL', rates: [] as number[], op: () => callWhoami(post) };
    }));
    await compare('tools/call whoami/s, one resource server', 'calls/s', CALLS_PER_ROUND, sides[0]!, sides[1]!, 0.7);
  } finally {
    await Promise.all(servers.map((server) => server.close()));
  }
}

async function twoReplicasAgainstOne(): Promise<void> {
  const set = await startReplicaSet();
  try {
    const stdout = new CapturedOutput();
    const stderr = new CapturedOutput();
    const added = await runGatehouse(['users', 'add', 'bench', '--scope', 'mcp:read'], { stdin: Readable.from(['bench password 123\n']), stdout, stderr }, set.env);
    if (added !== 0) throw new Error(stderr.text);
    const redirectUri = 'http://127.0.0.1:33418/callback';
    const chains = await refreshChains(set.issuer, 'bench', 'bench password 123', set.mcpUrl, redirectUri);
    const [first, second] = set.auth;
    await compare('refresh grants/s on PostgreSQL, auth-server replicas', 'grants/s', REFRESHES_PER_ROUND,
      { label: 'one replica', op: (lane) => chains.refresh(lane, first.url), rates: [] },
      { label: 'two replicas', op: (lane) => chains.refresh(lane, lane % 2 === 0 ? first.url : second.url), rates: [] });

    const token = await chains.accessToken();
    const [rs1, rs2] = set.resource;
    const session = await openMcpSession({ mcpUrl: `${rs1.url}/mcp`, token }, 'bench-replicas');
    const other = await openMcpSession({ mcpUrl: `${rs2.url}/mcp`, token }, 'bench-replicas');
    await compare('tools/call whoami/s on PostgreSQL, resource-server replicas', 'calls/s', CALLS_PER_ROUND,
      { label: 'one replica', op: () => callWhoami(session.post), rates: [] },
      { label: 'two replicas', op: (lane) => callWhoami(lane % 2 === 0 ? session.post : other.post), rates: [] });
    await session.client.close();
    await other.client.close();
  } finally {
    await set.close();
  }
}

export async function benchStorageBackends(): Promise<void> {
  // The test helpers make their PostgreSQL databases in this cluster.
  const cluster = await startPostgresCluster();
  const previous = process.env.GATEHOUSE_TEST_POSTGRES_URL;
  process.env.GATEHOUSE_TEST_POSTGRES_URL = cluster.url;
  try {
    await oneReplicaEachBackend(() => cluster.createDatabase());
    console.log();
    await twoReplicasAgainstOne();
  } finally {
    if (previous === undefined) delete process.env.GATEHOUSE_TEST_POSTGRES_URL;
    else process.env.GATEHOUSE_TEST_POSTGRES_URL = previous;
    await cluster.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchStorageBackends();
}
