/**
 * server-everything in its Streamable HTTP mode, as its own process on a free 127.0.0.1 port
 * (it reads PORT), ready once it answers HTTP. `close()` ends that process only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../helpers/net.ts';
import { EVERYTHING } from './upstreams.ts';

export interface RunningHttpUpstream {
  /** Its MCP endpoint, e.g. http://127.0.0.1:43121/mcp */
  url: string;
  child: ChildProcess;
  close(): Promise<void>;
}

/** On `port` when given (one a test reserved), else on a free one. */
export async function startEverythingHttp(port?: number): Promise<RunningHttpUpstream> {
  port ??= await freePort();
  const child = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const url = `http://127.0.0.1:${port}/mcp`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server-everything (HTTP) exited: ${stderr}`);
    try {
      // Any answer means it listens; a GET without a session is a 400 from it.
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill();
        throw new Error(`server-everything (HTTP) did not answer on ${url}: ${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    url,
    child,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
