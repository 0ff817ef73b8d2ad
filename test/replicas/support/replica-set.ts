/**
 * Two auth-server and two resource-server processes on one PostgreSQL database, behind nginx
 * running the shipped load-balancer configuration (ops/replicas/nginx.conf): the deployment of
 * the compose "replicas" profile, on this machine. Only addresses and paths of that file are
 * rewritten (each rewrite must match exactly once), plus one header naming the replica that
 * answered, so tests can see where each request went.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../helpers/net.ts';
import { createTestPostgresDatabase } from '../../helpers/test-database.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { kill, REPO_ROOT, runApp, type RunningProcess } from '../../ops/support/processes.ts';

export const ADMIN_PASSWORD = 'replicated admin password';
/** The response header the test's nginx adds: which replica (`127.0.0.1:port`) answered. */
export const REPLICA_HEADER = 'x-gatehouse-replica';

export interface Replica {
  name: string;
  port: number;
  url: string;
  process: RunningProcess;
}

export interface ReplicaSet {
  databaseUrl: string;
  /** The public URLs, through nginx. */
  issuer: string;
  mcpUrl: string;
  auth: [Replica, Replica];
  resource: [Replica, Replica];
  /** The environment every replica (and the CLI) runs with. */
  env: Record<string, string>;
  /** Starts a replica again after it was killed, on the same port. */
  restart(replica: Replica): Promise<void>;
  close(): Promise<void>;
}

function rewrite(conf: string, from: string | RegExp, to: string): string {
  const matches = conf.match(new RegExp(from, 'g'))?.length ?? 0;
  assert.equal(matches, 1, `nginx.conf: expected exactly one ${from}`);
  return conf.replace(from, to);
}

async function startNginx(dir: string, ports: Record<string, number>): Promise<ChildProcess> {
  let conf = readFileSync(join(REPO_ROOT, 'ops', 'replicas', 'nginx.conf'), 'utf8');
  for (const [from, port] of Object.entries(ports)) {
    conf = from.startsWith('listen')
      ? rewrite(conf, new RegExp(`${from};`), `listen 127.0.0.1:${port};`)
      : rewrite(conf, from, `127.0.0.1:${port}`);
  }
  conf = rewrite(conf, 'pid /tmp/nginx.pid;', `pid ${dir}/nginx.pid;`);
  // /dev/stderr cannot be opened when the test run's output goes to a file.
  conf = rewrite(conf, 'error_log /dev/stderr warn;', `error_log ${dir}/error.log warn;`);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => {
    const path = join(dir, kind);
    mkdirSync(path);
    chmodSync(path, 0o777);
    return `  ${kind}_temp_path ${path};`;
  });
  conf = rewrite(conf, 'http {', ['http {', ...temp, `  add_header ${REPLICA_HEADER} $upstream_addr always;`].join('\n'));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  await waitFor('nginx listening', async () => {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}${existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''}`);
    return fetch(`http://127.0.0.1:${ports['listen 4200']}/healthz`).then(() => true, () => false);
  }, 15_000);
  return child;
}

export async function startReplicaSet(): Promise<ReplicaSet> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-replicas-'));
  const databaseUrl = await createTestPostgresDatabase();
  const ports = new Set<number>();
  while (ports.size < 6) ports.add(await freePort());
  const [lbAuth, lbResource, auth1, auth2, resource1, resource2] = [...ports] as [number, number, number, number, number, number];
  const issuer = `http://127.0.0.1:${lbAuth}`;
  const mcpUrl = `http://127.0.0.1:${lbResource}/mcp`;
  writeFileSync(join(dir, 'gatehouse.yaml'), [
    'auth_server:',
    '  bcrypt_cost: 10',
    '  signing: { reload_interval: 1s }',
    '  sign_in_throttle: { slow_down_after: 100 }',
    '  rate_limits: { enabled: false }',
    'resource_server:',
    '  revocation: { poll_interval: 1s }',
  ].join('\n'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? dir,
    GATEHOUSE_CONFIG: join(dir, 'gatehouse.yaml'),
    DATABASE_URL: databaseUrl,
    GATEHOUSE_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 42).toString('base64'),
    // Nothing may be written here on PostgreSQL; the test checks it stays empty.
    DATA_DIR: join(dir, 'data'),
    KEYS_DIR: join(dir, 'keys'),
    ISSUER: issuer,
    RESOURCE_URL: mcpUrl,
    JWKS_URI: `${issuer}/oauth/jwks`,
    TRUST_PROXY: 'true',
    BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
    LOG_LEVEL: 'warn',
  };
  const replicas: Replica[] = [];
  const start = async (name: string, app: 'auth-server' | 'resource-server', port: number): Promise<Replica> => {
    const portVar = app === 'auth-server' ? 'AUTH_PORT' : 'RESOURCE_PORT';
    const process = runApp(app, { ...env, [portVar]: String(port) });
    const replica = { name, port, url: `http://127.0.0.1:${port}`, process };
    await waitFor(`${name} ready`, () => fetch(`${replica.url}/healthz`).then((r) => r.ok, () => false), 60_000);
    return replica;
  };
  let nginx: ChildProcess | undefined;
  try {
    // Two replicas of each start together, as a deployment would start them.
    replicas.push(...await Promise.all([start('auth-server-1', 'auth-server', auth1), start('auth-server-2', 'auth-server', auth2)]));
    replicas.push(...await Promise.all([start('resource-server-1', 'resource-server', resource1), start('resource-server-2', 'resource-server', resource2)]));
    nginx = await startNginx(dir, {
      'auth-server-1:4000': auth1, 'auth-server-2:4000': auth2,
      'resource-server-1:4001': resource1, 'resource-server-2:4001': resource2,
      'listen 4200': lbAuth, 'listen 4201': lbResource,
    });
  } catch (err) {
    for (const replica of replicas) kill(replica.process);
    nginx?.kill('SIGKILL');
    throw err;
  }
  const set: ReplicaSet = {
    databaseUrl,
    issuer,
    mcpUrl,
    auth: [replicas[0]!, replicas[1]!],
    resource: [replicas[2]!, replicas[3]!],
    env,
    async restart(replica) {
      const app = replica.name.startsWith('auth') ? 'auth-server' : 'resource-server';
      const fresh = await start(replica.name, app, replica.port);
      replica.process = fresh.process;
    },
    async close() {
      nginx?.kill('SIGQUIT');
      for (const replica of replicas) replica.process.signal('SIGTERM');
      await Promise.race([Promise.all(replicas.map((r) => r.process.exited)), new Promise((resolve) => setTimeout(resolve, 10_000))]);
      for (const replica of replicas) kill(replica.process);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return set;
}
