/**
 * Runs Gatehouse as real processes, the way an operator does: `npm start`, `npm run start:auth`,
 * the apps' main files under tsx, or the compiled build under plain node. Each gets a temp data
 * and keys directory, ports that were free a moment ago, and a minimal environment (nothing
 * from the test runner's own environment leaks into the app's configuration).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../helpers/net.ts';

export const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');

export interface Setup {
  dir: string;
  authPort: number;
  resourcePort: number;
  issuer: string;
  mcpUrl: string;
  /** The environment that points both apps at the temp dir and the ports. */
  env: Record<string, string>;
}

/** A fresh data/keys dir and two free ports, as environment variables. */
export async function freshSetup(extra: Record<string, string> = {}): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-ops-'));
  const authPort = await freePort();
  let resourcePort = await freePort();
  while (resourcePort === authPort) resourcePort = await freePort();
  const issuer = `http://127.0.0.1:${authPort}`;
  const mcpUrl = `http://127.0.0.1:${resourcePort}/mcp`;
  return {
    dir,
    authPort,
    resourcePort,
    issuer,
    mcpUrl,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? dir,
      DATA_DIR: join(dir, 'data'),
      KEYS_DIR: join(dir, 'keys'),
      AUTH_PORT: String(authPort),
      RESOURCE_PORT: String(resourcePort),
      ISSUER: issuer,
      RESOURCE_URL: mcpUrl,
      ...extra,
    },
  };
}

export interface RunningProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the output once it matches `pattern`; rejects on timeout or early exit. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` to the process, or with `group` to its whole process group (as a terminal's Ctrl-C does). */
  signal(signal: NodeJS.Signals, options?: { group?: boolean }): void;
}

/**
 * Spawns `command args` in the repository, in its own process group. `stdout` and `stderr` are
 * pipes the test reads, unless it passes a file descriptor to write to instead.
 */
export function run(command: string, args: string[], env: Record<string, string>, { stdout = 'pipe', stderr = 'pipe' }: { stdout?: 'pipe' | number; stderr?: 'pipe' | number } = {}): RunningProcess {
  const child = spawn(command, args, { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', stdout, stderr] });
  let text = '';
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
      for (const listener of listeners) listener();
    });
  });
  return {
    child,
    output: () => text,
    exited,
    waitForOutput(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(text)) {
            cleanup();
            resolve(text);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            cleanup();
            reject(new Error(`process exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}:\n${text}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${text}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    signal(signal, { group = false } = {}) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(group ? -child.pid! : child.pid!, signal);
    },
  };
}

/** Runs an app's main.ts under tsx directly (no npm in between), for precise signals. */
export function runApp(app: 'auth-server' | 'resource-server', env: Record<string, string>, options?: { stdout?: 'pipe' | number }): RunningProcess {
  return run(process.execPath, ['--import', 'tsx', join('apps', app, 'src', 'main.ts')], env, options);
}

/** The process's exit; fails, naming `what`, when it has not exited within `timeoutMs`. */
export async function exitedWithin(proc: RunningProcess, timeoutMs: number, what: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not exit within ${timeoutMs} ms:\n${proc.output()}`)), timeoutMs);
  });
  try {
    return await Promise.race([proc.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Kills whatever is left of a process's group, for `after` hooks when a test failed midway (the
 * leader may be gone while the apps it started still run).
 */
export function kill(proc: RunningProcess | undefined): void {
  if (!proc?.child.pid) return;
  try {
    process.kill(-proc.child.pid, 'SIGKILL');
  } catch {
    // the whole group is gone
  }
}

/** Resolves to true when a TCP connection to 127.0.0.1:port is refused. */
export function isRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** Waits until nothing accepts connections on the port any more. */
export async function waitUntilRefused(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await isRefused(port))) {
    if (Date.now() > deadline) throw new Error(`port ${port} still accepts connections after ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Waits until GET `url` answers 200; gives up early when `proc` (the server) has exited. */
export async function waitForOk(url: string, { timeoutMs = 30_000, init, proc }: { timeoutMs?: number; init?: RequestInit; proc?: RunningProcess } = {}): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
      throw new Error(`the server exited (${proc.child.exitCode ?? proc.child.signalCode}) before ${url} answered:\n${proc.output()}`);
    }
    try {
      const response = await fetch(url, init);
      if (response.ok) return response;
      await response.body?.cancel();
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** The apps that logged their last line, `stopped`, which each writes just before exiting 0. */
export function stoppedApps(output: string): string[] {
  return output.split('\n').filter((l) => l.startsWith('{') && JSON.parse(l).msg === 'stopped').map((l) => JSON.parse(l).app as string).sort();
}

/**
 * npm, stopped by a signal, ends itself with that signal once its script has exited, as shells
 * expect of Ctrl-C; an exit code is only reported for a script that ended on its own.
 */
export function assertNpmStopped(result: { code: number | null; signal: NodeJS.Signals | null }, signal: NodeJS.Signals, output: string): void {
  assert.ok(result.code === 0 || (result.code === null && result.signal === signal), `npm ended with ${result.code ?? result.signal}:\n${output}`);
  assert.doesNotMatch(output, /gatehouse: \S+ exited/, 'the launcher saw no app fail');
}
