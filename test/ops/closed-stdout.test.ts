/**
 * Stdout that nobody reads any more (`npm start 2>&1 | tee log`, and tee is gone): every log line
 * the apps write from then on fails with EPIPE. They must still stop when asked, within their
 * shutdown timeout, with exit 0; a log that cannot be written never holds a process (or its port)
 * after its shutdown. Each says once on stderr that its logging stopped.
 *
 * The reader goes away once the apps run and before the signal, so the first lines to fail are
 * the shutdown's own ("shutting down", "stopped"), written just before the process exits.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { exitedWithin, freshSetup, kill, run, runApp, type RunningProcess, type Setup } from './support/processes.ts';

/** Each app's own bound: SHUTDOWN_TIMEOUT (2 s) plus the 5 s its main.ts allows on top. */
const SHUTDOWN_TIMEOUT = '2s';
/** The wait for an exit: that bound, with room for a loaded machine. */
const EXIT_WITHIN_MS = 20_000;

const LOGGING_STOPPED = (app: string) => new RegExp(`gatehouse ${app}: the log cannot be written to stdout \\(EPIPE[^)]*\\); no more log lines until the app restarts\\n`);

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
    test(`${app} on its own, its stdout's reader gone, then SIGTERM: exits 0 and says on stderr that logging stopped`, async () => {
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
