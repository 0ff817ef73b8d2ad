/**
 * Stderr that nobody can write (its pipe's reader gone, a full disk) under `npm start`: the launcher
 * writes a line there when an app exits on its own. Losing that line must change nothing else:
 * the launcher still stops the other app, waits for it, and exits with the code the apps' exits
 * give (0 here: the app that left stopped cleanly).
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { exitedWithin, freshSetup, isRefused, kill, run, type RunningProcess, type Setup } from './support/processes.ts';

/** Each app's own bound: SHUTDOWN_TIMEOUT (2 s) plus the 5 s its main.ts allows on top. */
const SHUTDOWN_TIMEOUT = '2s';
/** The wait for an exit: that bound, with room for a loaded machine. */
const EXIT_WITHIN_MS = 20_000;

/** Stderr no write can reach, as `open` gives it to run(). */
const UNWRITABLE = [
  { name: 'a pipe whose reader is gone', open: (): 'pipe' | number => 'pipe' },
  { name: '/dev/full (a full disk)', open: (): 'pipe' | number => openSync('/dev/full', 'w') },
];

/** The process the launcher runs `app` in, from /proc. */
function appProcess(launcher: RunningProcess, app: 'auth-server' | 'resource-server'): number {
  const pid = launcher.child.pid!;
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').map(Number);
  const found = children.find((child) => readFileSync(`/proc/${child}/cmdline`, 'utf8').includes(`${app}/src/main`));
  assert.ok(found, `the launcher runs the ${app}`);
  return found;
}

describe('stderr that cannot be written, under the launcher', () => {
  const setups: Setup[] = [];
  const started: RunningProcess[] = [];
  after(() => {
    started.forEach(kill);
    for (const setup of setups) rmSync(setup.dir, { recursive: true, force: true });
  });

  for (const { name, open } of UNWRITABLE) {
    test(`stderr on ${name}: an app stopped on its own, the launcher stops the other and exits 0`, async () => {
      const setup = await freshSetup({ SHUTDOWN_TIMEOUT });
      setups.push(setup);
      const stderr = open();
      const launcher = run(process.execPath, ['--import', 'tsx', 'apps/start.ts'], setup.env, { stderr });
      started.push(launcher);
      if (stderr === 'pipe') launcher.child.stderr!.destroy();
      else closeSync(stderr);
      await launcher.waitForOutput(/Press Ctrl-C/);

      process.kill(appProcess(launcher, 'resource-server'), 'SIGTERM');
      assert.deepEqual(await exitedWithin(launcher, EXIT_WITHIN_MS, 'the launcher'), { code: 0, signal: null }, launcher.output());
      assert.ok(await isRefused(setup.authPort), 'the auth-server stopped before the launcher exited');
    });
  }
});
