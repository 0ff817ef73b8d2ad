/**
 * The upstream of the gateway benchmark: the reference MCP server `@modelcontextprotocol/server-everything`
 * (a pinned dev dependency) in its Streamable HTTP mode, in a process of its own, started from its
 * installed dist/index.js with this Node (never `npx -y`, which would go to the network).
 *
 * - It reads its port from PORT only, so a port that was free a moment ago is handed to it.
 * - It logs a line to stdout on every request; stdout is discarded so that logging costs it no more
 *   than writing to /dev/null, the same for every caller. Readiness is its "listening on port"
 *   line on stderr.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../test/helpers/net.ts';

/** Longest the server may take to say it listens. */
const START_TIMEOUT_MS = 15_000;

export interface EverythingServer {
  /** Its MCP endpoint, e.g. http://127.0.0.1:40123/mcp */
  mcpUrl: string;
  pid: number;
  close(): Promise<void>;
}

const entry = join(dirname(createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');

export async function startEverythingServer(): Promise<EverythingServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [entry, 'streamableHttp'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PORT: String(port) } });
  const stderr: string[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server-everything did not listen within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server-everything exited with ${code}: ${stderr.join('\n')}`));
      });
      createInterface({ input: child.stderr }).on('line', (line) => {
        stderr.push(line);
        if (/listening on port/i.test(line)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    mcpUrl: `http://127.0.0.1:${port}/mcp`,
    pid: child.pid!,
    close: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
