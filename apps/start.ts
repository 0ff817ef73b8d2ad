/**
 * `npm start`: runs auth-server and resource-server as two processes from one command, with
 * their output interleaved, and prints one banner once both are listening (where they are, the
 * MCP URL to paste into a client and, on the first start, the admin password).
 *
 * - The configuration is checked here first, so a mistake is reported once, not by both apps.
 * - Ctrl-C (SIGINT) or SIGTERM stops both gracefully. If one app exits on its own, the other is
 *   stopped too; the launcher then exits with the first non-zero code (0 after a clean stop).
 * - A stdout nobody reads any more (`npm start | head`) loses the banner; it stops nothing. So
 *   does a stderr nobody can write lose the launcher's own lines: the exit code stays the apps'.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { formatBanner, printBanner, READY_MESSAGE, type ReadyAnnouncement } from './shared/announce-ready.ts';
import { ConfigError } from './shared/config/config-error.ts';
import { loadConfig } from './shared/config/load-config.ts';
import { assertServable } from './shared/serving-warnings.ts';

const apps = ['auth-server', 'resource-server'] as const;

// Node reports a failed write as an 'error' on process.stderr, which without a listener would end
// the launcher with exit code 1 at its first line, before the other app has stopped.
process.stderr.on('error', () => {});

try {
  assertServable(loadConfig());
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`gatehouse: ${err.message}\n`);
  process.exit(2);
}

const children: ChildProcess[] = [];
const ready = new Map<string, ReadyAnnouncement>();
let stopping = false;
let exitCode = 0;

function stopAll(): void {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}

// Run main.ts under tsx (npm start) or main.js from the build, whichever this file is.
const extension = import.meta.filename.endsWith('.ts') ? '.ts' : '.js';
for (const app of apps) {
  const child = spawn(process.execPath, [...process.execArgv, join(import.meta.dirname, app, 'src', `main${extension}`)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: process.env,
  });
  child.on('message', (message: { type?: string; announcement?: ReadyAnnouncement }) => {
    if (message?.type !== READY_MESSAGE || !message.announcement) return;
    ready.set(app, message.announcement);
    if (ready.size === apps.length) {
      printBanner(formatBanner(apps.map((name) => ready.get(name)!), { launcher: true, terminal: process.stdout.isTTY === true }));
    }
  });
  child.on('exit', (code, signal) => {
    const failed = signal === null ? code !== 0 : !stopping;
    if (failed && exitCode === 0) exitCode = code || 1;
    if (!stopping) process.stderr.write(`gatehouse: ${app} exited (${signal ?? code}); stopping the other app\n`);
    stopAll();
    if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) process.exit(exitCode);
  });
  children.push(child);
}

process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);
