// Runs every test/**/*.test.ts with node's own test runner (through tsx), as many files at once
// as the machine has cores (TEST_CONCURRENCY overrides; 1 runs them one after another).
// Node 20's --test takes no globs, so the file list is collected here.
//
// Storage-facing suites run on SQLite and on PostgreSQL: this starts one throwaway PostgreSQL
// cluster for the whole run (scripts/postgres-cluster.mjs) and hands its URL to the tests as
// GATEHOUSE_TEST_POSTGRES_URL; each test makes its own database there. GATEHOUSE_TEST_BACKENDS=sqlite
// runs the SQLite side only (for a machine without PostgreSQL; CI runs both).
//
// The whole suite on both backends (`npm test`, what CI runs) fails when any test was skipped: a
// skip counts as a pass in node's runner, so a machine missing a tool a test needs (sqlite3,
// setpriv, PostgreSQL) would pass without checking what that test covers.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
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
const summaryDir = mkdtempSync(join(tmpdir(), 'gatehouse-tests-'));
const summary = join(summaryDir, 'summary.tap');
const child = spawn(
  process.execPath,
  [
    '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${summary}`,
    ...files,
  ],
  { stdio: 'inherit', env },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
let status = await new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
await cluster?.stop();
// Each skipped test or suite, at any depth: the summary's `# skipped N` leaves skipped suites
// (describe with `skip`) out. A test's own output comes as `# ` comment lines, never as `ok`.
const tap = existsSync(summary) ? readFileSync(summary, 'utf8') : '';
const skipped = tap.match(/^\s*(?:not )?ok \d+ - .* # SKIP\b/gm)?.length ?? 0;
rmSync(summaryDir, { recursive: true, force: true });
const wholeSuite = filter.length === 0 && backends.includes('sqlite') && backends.includes('postgres');
if (wholeSuite && skipped > 0) {
  console.error(`${skipped} test(s) skipped: the whole suite runs every test (see the skip reasons above; .ci/run installs what they need)`);
  status ||= 1;
}
process.exit(status);
