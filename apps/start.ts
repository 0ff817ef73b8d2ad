/**
 * `npm start`: runs auth-server and resource-server as two processes from one command, with
 * their output interleaved. Ctrl-C (or SIGTERM) stops both; if one exits, the other is stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const apps = ['auth-server', 'resource-server'] as const;
const children: ChildProcess[] = [];
let stopping = false;

function stopAll(signal: NodeJS.Signals = 'SIGTERM'): void {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill(signal);
}

for (const app of apps) {
  const child = spawn(process.execPath, [...process.execArgv, join(import.meta.dirname, app, 'src', `main${import.meta.filename.endsWith('.ts') ? '.ts' : '.js'}`)], {
    stdio: 'inherit',
    env: process.env,
  });
  child.on('exit', (code) => {
    if (!stopping) process.stderr.write(`gatehouse: ${app} exited (${code}); stopping the other app\n`);
    stopAll();
    if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) process.exit(code ?? 0);
  });
  children.push(child);
}

process.on('SIGINT', () => stopAll('SIGTERM'));
process.on('SIGTERM', () => stopAll('SIGTERM'));
