// Runs every test/**/*.test.ts with node's own test runner (through tsx), as many files at once
// as the machine has cores (TEST_CONCURRENCY overrides; 1 runs them one after another).
// Node 20's --test takes no globs, so the file list is collected here.
//
// Storage-facing suites run on SQLite and on PostgreSQL: this starts one throwaway PostgreSQL
// cluster for the whole run (scripts/postgres-cluster.mjs) and hands its URL to the tests as
// GATEHOUSE_TEST_POSTGRES_URL; each test makes its own database there. GATEHOUSE_TEST_BACKENDS=sqlite
// runs the SQLite side only (for a machine without PostgreSQL; CI runs both).
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { startPostgresCluster } from './postgres-cluster.mjs';

function collect(dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return collect(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const filter = process.argv.slice(2);
const files = collect('test').filter((file) => filter.length === 0 || filter.some((f) => file.includes(f)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

const backends = (process.env.GATEHOUSE_TEST_BACKENDS ?? 'sqlite,postgres').split(',');
const env = { ...process.env, NODE_ENV: 'test' };
let cluster;
if (backends.includes('postgres') && !process.env.GATEHOUSE_TEST_POSTGRES_URL) {
  try {
    cluster = await startPostgresCluster();
  } catch (err) {
    console.error(`${err.message}\nInstall PostgreSQL's server (Debian: apt-get install postgresql), or run GATEHOUSE_TEST_BACKENDS=sqlite npm test.`);
    process.exit(1);
  }
  env.GATEHOUSE_TEST_POSTGRES_URL = cluster.url;
}

const concurrency = Number(process.env.TEST_CONCURRENCY) || availableParallelism();
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit', env },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
const status = await new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
await cluster?.stop();
process.exit(status);
