/**
 * Stdout that nobody reads any more (`npm start 2>&1 | tee log`, and tee is gone): every log line
 * the apps write from then on fails with EPIPE. They must still stop when asked, within their
 * shutdown timeout, with exit 0; a log that cannot be written never holds a process (or its port)
 * after its shutdown. Each says once on stderr that its logging stopped.
 *
 * First the reader goes away once the apps run and before the signal, so the first lines to fail
 * are the shutdown's own ("shutting down", "stopped"), written just before the process exits.
 * Then stdout cannot be written from the start (a pipe whose reader is already gone, a full
 * disk): the start banner fails too, and neither an app nor the launcher may stop over it.
 */
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { waitFor } from '../helpers/wait-for.ts';
import { exitedWithin, freshSetup, kill, run, runApp, waitForOk, type RunningProcess, type Setup } from './support/processes.ts';

/** Each app's own bound: SHUTDOWN_TIMEOUT (2 s) plus the 5 s its main.ts allows on top. */
const SHUTDOWN_TIMEOUT = '2s';
/** The wait for an exit: that bound, with room for a loaded machine. */
const EXIT_WITHIN_MS = 20_000;

const LOGGING_STOPPED = (app: string, code = 'EPIPE') => new RegExp(`gatehouse ${app}: the log cannot be written to stdout \\(${code}[^)]*\\); no more log lines until the app restarts\\n`);

describe('stdout whose reader is gone once Gatehouse runs', () => {
  const setups: Setup[] = [];
  const started: RunningProcess[] = [];
  after(() => {
    started.forEach(kill);
    for (const setup of setups) rmSync(setup.dir, { recursive: true, force: true });
  });

  test('npm start 2>&1 | tee log, tee gone, then Ctrl-C: both apps stop and the launcher exits 0', async () => {
    const setup = await freshSetup({ SHUTDOWN_TIMEOUT });
    setups.push(setup);
    // `2>&1`: the launcher's stdout and stderr, which both apps inherit, are the one pipe.
    const launcher = run('sh', ['-c', 'exec "$0" --import tsx apps/start.ts 2>&1', process.execPath], setup.env);
    started.push(launcher);
    await launcher.waitForOutput(/Press Ctrl-C/);

    launcher.child.stdout!.destroy();
    launcher.signal('SIGINT', { group: true });
    assert.deepEqual(await exitedWithin(launcher, EXIT_WITHIN_MS, 'the launcher (and so an app)'), { code: 0, signal: null });
  });

  for (const app of ['auth-server', 'resource-server'] as const) {
    test(`${app} without the launcher, its stdout's reader gone, then SIGTERM: exits 0 and says on stderr that logging stopped`, async () => {
      const setup = await freshSetup({ SHUTDOWN_TIMEOUT });
      setups.push(setup);
      const proc = runApp(app, setup.env);
      started.push(proc);
      await proc.waitForOutput(/Gatehouse is running/);

      proc.child.stdout!.destroy();
      proc.signal('SIGTERM');
      assert.deepEqual(await exitedWithin(proc, EXIT_WITHIN_MS, app), { code: 0, signal: null }, proc.output());
      assert.match(proc.output(), LOGGING_STOPPED(app));
    });
  }
});

/** Stdout no write can reach, as `open` gives it to run(). */
const UNWRITABLE = [
  { name: 'a pipe whose reader is already gone', code: 'EPIPE', open: (): 'pipe' | number => 'pipe' },
  { name: '/dev/full (a full disk)', code: 'ENOSPC', open: (): 'pipe' | number => openSync('/dev/full', 'w') },
];

/** Drops the test's end of `stdout`: the pipe's read end, or its copy of the file descriptor. */
function letGo(proc: RunningProcess, stdout: 'pipe' | number): void {
  if (stdout === 'pipe') proc.child.stdout!.destroy();
  else closeSync(stdout);
}

describe('stdout that cannot be written from the start', () => {
  const setups: Setup[] = [];
  const started: RunningProcess[] = [];
  after(() => {
    started.forEach(kill);
    for (const setup of setups) rmSync(setup.dir, { recursive: true, force: true });
  });

  /**
   * Resolves once `app` has written its banner (or handed it to the launcher). The resource-server
   * does that as soon as its first read of the revocation feed is done, which is also when its
   * /readyz first answers 200 (so an auth-server must run); the auth-server right after it moves
   * the first admin's password file into place.
   */
  async function announced(app: 'auth-server' | 'resource-server', setup: Setup, proc: RunningProcess): Promise<void> {
    if (app === 'resource-server') {
      await waitForOk(`http://127.0.0.1:${setup.resourcePort}/readyz`, { proc });
      return;
    }
    await waitForOk(`${setup.issuer}/healthz`, { proc });
    await waitFor('the first admin\'s password file', () => existsSync(join(setup.env.DATA_DIR!, 'first-admin-password')), 30_000);
  }

  for (const { name, code, open } of UNWRITABLE) {
    for (const app of ['auth-server', 'resource-server'] as const) {
      test(`${app} without the launcher, stdout on ${name}: serves, says on stderr that logging stopped, exits 0 on SIGTERM`, async () => {
        const setup = await freshSetup({ SHUTDOWN_TIMEOUT });
        setups.push(setup);
        // The resource-server needs an auth-server to read the revocation feed from (its stdout is the test's).
        if (app === 'resource-server') started.push(runApp('auth-server', setup.env));
        const stdout = open();
        const proc = runApp(app, setup.env, { stdout });
        started.push(proc);
        letGo(proc, stdout);
        await announced(app, setup, proc);

        proc.signal('SIGTERM');
        assert.deepEqual(await exitedWithin(proc, EXIT_WITHIN_MS, app), { code: 0, signal: null }, proc.output());
        assert.match(proc.output(), LOGGING_STOPPED(app, code));
      });
    }

    test(`npm start, stdout on ${name}: the launcher's banner fails, both apps serve, Ctrl-C stops all with exit 0`, async () => {
      const setup = await freshSetup({ SHUTDOWN_TIMEOUT });
      setups.push(setup);
      const stdout = open();
      const launcher = run(process.execPath, ['--import', 'tsx', 'apps/start.ts'], setup.env, { stdout });
      started.push(launcher);
      letGo(launcher, stdout);
      await announced('resource-server', setup, launcher);
      await announced('auth-server', setup, launcher);

      launcher.signal('SIGINT', { group: true });
      assert.deepEqual(await exitedWithin(launcher, EXIT_WITHIN_MS, 'the launcher (and so an app)'), { code: 0, signal: null }, launcher.output());
      for (const app of ['auth-server', 'resource-server']) assert.match(launcher.output(), LOGGING_STOPPED(app, code));
    });
  }
});
