/**
 * Ctrl-C on an app that cannot answer at once: a busy machine may not schedule the process that
 * runs an app's code for a while after the signal. It must still get its graceful stop (drain,
 * flush, close the database, log `stopped`, exit 0) once it runs again, whatever npm script
 * started it. Nothing between npm and the app may give up on it after a few milliseconds and
 * kill it (`SIGKILL` skips the shutdown: in-flight requests cut, queued audit events lost).
 *
 * The busy machine is made deterministic: the processes that run the apps' code are stopped
 * (SIGSTOP) before Ctrl-C and continued half a second later.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertNpmStopped, freshSetup, kill, run, stoppedApps, type RunningProcess, type Setup } from './support/processes.ts';

interface ProcessInfo {
  pid: number;
  ppid: number;
  argv: string[];
}

/** Every live process in process group `pgid`, from /proc. */
function processGroup(pgid: number): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // proc(5): "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
      const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) !== pgid) continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      found.push({ pid: Number(entry), ppid: Number(ppid), argv });
    } catch {
      // exited while we looked
    }
  }
  return found;
}

const ENTRY_FILE = /apps\/(start|auth-server\/src\/main|resource-server\/src\/main)\.ts$/;

/**
 * The processes that run Gatehouse's own code: for each entry file, the innermost process whose
 * command line names it (a process that only hands the file on to a child of its own is not it).
 */
function appCodeProcesses(pgid: number): ProcessInfo[] {
  const group = processGroup(pgid);
  const entryOf = (p: ProcessInfo) => p.argv.map((arg) => ENTRY_FILE.exec(arg)?.[1]).find(Boolean);
  return group.filter((p) => entryOf(p) && !group.some((c) => c.ppid === p.pid && entryOf(c) === entryOf(p)));
}

/** `launcher`: the script runs apps/start.ts, which runs each app as a process of its own. */
const CASES: Array<{ script: string[]; ready: RegExp; apps: string[]; launcher?: true }> = [
  { script: ['run', 'start:auth'], ready: /Gatehouse is running:/, apps: ['auth-server'] },
  { script: ['run', 'start:resource'], ready: /Gatehouse is running:/, apps: ['resource-server'] },
  { script: ['start'], ready: /Press Ctrl-C/, apps: ['auth-server', 'resource-server'], launcher: true },
];

describe('Ctrl-C while the apps are not running on a CPU', () => {
  const setups: Setup[] = [];
  const started: RunningProcess[] = [];
  after(() => {
    started.forEach(kill);
    for (const setup of setups) rmSync(setup.dir, { recursive: true, force: true });
  });

  for (const { script, ready, apps, launcher } of CASES) {
    test(`npm ${script.join(' ')}: each app still stops gracefully and exits 0 once it runs again`, async () => {
      const setup = await freshSetup();
      setups.push(setup);
      const npm = run('npm', script, setup.env);
      started.push(npm);
      await npm.waitForOutput(ready);

      const paused = appCodeProcesses(npm.child.pid!);
      assert.equal(paused.length, apps.length + (launcher ? 1 : 0), `one process per app (and the launcher): ${JSON.stringify(paused)}`);
      for (const p of paused) process.kill(p.pid, 'SIGSTOP');
      npm.signal('SIGINT', { group: true });
      await sleep(500); // the stretch the machine gave these processes no CPU
      for (const p of paused) {
        try {
          process.kill(p.pid, 'SIGCONT');
        } catch {
          // killed while stopped: what this test is here to catch; the assertions below say so
        }
      }

      assertNpmStopped(await npm.exited, 'SIGINT', npm.output());
      assert.deepEqual(stoppedApps(npm.output()), apps, `every app logged "stopped" before npm returned:\n${npm.output()}`);
    });
  }
});
