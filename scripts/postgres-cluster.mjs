// A throwaway PostgreSQL cluster for the tests and benchmarks, from the Debian `postgresql`
// package's binaries (/usr/lib/postgresql/<major>/bin, or GATEHOUSE_PG_BIN): `initdb` in a temp
// dir, `postgres` on a free loopback port with its socket in that dir, trust authentication for
// one superuser `gatehouse`. The server refuses to run as root, so as root it runs as the
// package's `postgres` user. Durability settings are off: the data dies with the test run.
// `stop()` asks for a fast shutdown (SIGINT) and removes the directory.
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const SUPERUSER = 'gatehouse';

/** The directory of the server binaries the cluster runs, and of the client tools of the same version (pg_dump). */
export function binDir() {
  if (process.env.GATEHOUSE_PG_BIN) return process.env.GATEHOUSE_PG_BIN;
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const major of majors) {
    if (existsSync(join(root, major, 'bin', 'initdb'))) return join(root, major, 'bin');
  }
  throw new Error("PostgreSQL's server binaries are not installed (Debian: apt-get install postgresql)");
}

function asServerUser() {
  if (process.getuid?.() !== 0) return { prefix: [], uid: undefined, gid: undefined };
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { prefix: ['runuser', '-u', 'postgres', '--'], uid, gid };
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilReady(url, child, log) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres exited with ${child.exitCode}: ${log()}`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (err) {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw new Error(`postgres did not accept connections: ${err.message}; ${log()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * Creates a new empty database on the cluster `adminUrl` points to; resolves to its URL. `locale`:
 * its LC_COLLATE and LC_CTYPE (e.g. 'C.UTF-8', where lower() folds every letter, as on most
 * servers), instead of the cluster's C.
 */
export async function createDatabaseAt(adminUrl, prefix = 'gatehouse', { locale } = {}) {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  if (locale !== undefined && !/^[\w.-]+$/.test(locale)) throw new TypeError(`not a locale name: ${locale}`);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"${locale ? ` TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE '${locale}' LC_CTYPE '${locale}'` : ''}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Starts a cluster; resolves to { url, port, createDatabase(), stop() }. With `{ unref: true }`
 * it does not keep the process alive, and is killed when the process exits (a test file run on
 * its own, without scripts/run-tests.mjs).
 */
export async function startPostgresCluster({ unref = false } = {}) {
  const bin = binDir();
  const { prefix, uid, gid } = asServerUser();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
  if (uid !== undefined) chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  const run = (command, args) => [...prefix, join(bin, command), ...args];
  const [initdb, ...initArgs] = run('initdb', ['-D', data, '-U', SUPERUSER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  execFileSync(initdb, initArgs, { stdio: 'pipe' });
  const port = await freePort();
  const [postgres, ...args] = run('postgres', [
    '-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1',
    '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
    '-c', 'max_connections=300', '-c', 'shared_buffers=64MB',
  ]);
  const child = spawn(postgres, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const url = `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`;
  try {
    await waitUntilReady(url, child, () => stderr);
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  // The postmaster's pid: under runuser the child is runuser, not postgres.
  const pidFile = join(data, 'postmaster.pid');
  const postmaster = () => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : child.pid);
  if (unref) {
    child.unref();
    child.stderr.unref?.();
    child.stderr.destroy();
    const pid = postmaster();
    process.once('exit', () => {
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    });
  }
  return {
    url,
    port,
    /** A new empty database; resolves to its URL. */
    createDatabase: (prefix) => createDatabaseAt(url, prefix),
    async stop() {
      const pid = postmaster();
      const exited = child.exitCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve));
      try {
        process.kill(pid, 'SIGINT');
      } catch {
        // already gone
      }
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
