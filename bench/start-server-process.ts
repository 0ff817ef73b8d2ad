/**
 * Starts a benchmark's server side in a Node process of its own, as it would be deployed, so the
 * client process that drives the calls does not share an event loop with what it measures.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface ServerProcess<Started> {
  /** What the script printed as its first stdout line (JSON). */
  started: Started;
  pid: number;
  close(): Promise<void>;
}

/**
 * Runs `script` (a path relative to bench/) through tsx with `args`, and Node flags `execArgv`
 * (e.g. --cpu-prof); resolves to the JSON line it prints first on stdout, or rejects when the
 * process exits before printing one.
 */
export async function startServerProcess<Started>(script: string, args: string[] = [], execArgv: string[] = []): Promise<ServerProcess<Started>> {
  const child = spawn(process.execPath, [...execArgv, '--import', 'tsx', fileURLToPath(new URL(script, import.meta.url)), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = createInterface({ input: child.stdout })[Symbol.asyncIterator]().next();
  const exited = new Promise<never>((_resolve, reject) => child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`))));
  const { value } = await Promise.race([first, exited]);
  return {
    started: JSON.parse(value as string) as Started,
    pid: child.pid!,
    close: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
