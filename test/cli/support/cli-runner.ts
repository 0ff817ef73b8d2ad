/**
 * The `gatehouse` command line for tests, against a temp data and keys directory: in-process
 * through the CLI's run() (what the binary calls), or as the real binary in a child process.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { run as runGatehouse } from '../../../apps/auth-server/src/cli/run.ts';
import { CapturedOutput } from './captured-output.ts';

export const ROOT = join(import.meta.dirname, '..', '..', '..');
/** The package's bin (package.json "bin"), what `npx gatehouse` runs. */
export const BIN = join(ROOT, 'apps', 'auth-server', 'src', 'cli', 'gatehouse.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A temp directory for the CLI's data and keys, with a config file setting bcrypt's lowest cost
 * (as startAuthServer does): the CLI hashes a dozen passwords here, and the cost is not under test.
 */
export function makeCliDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, 'gatehouse.yaml'), 'auth_server:\n  bcrypt_cost: 10\n');
  return dir;
}

export function envFor(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, GATEHOUSE_CONFIG: join(dir, 'gatehouse.yaml'), DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys'), ...extra };
}

/** Runs one command line in-process, as the binary would; `input` is stdin (a pipe, not a terminal), which then ends. */
export async function runCli(dir: string, args: string[], input = '', extraEnv: Record<string, string> = {}): Promise<CliResult> {
  const stdout = new CapturedOutput();
  const stderr = new CapturedOutput();
  const code = await runGatehouse(args, { stdin: Readable.from(input ? [input] : []), stdout, stderr }, envFor(dir, extraEnv));
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Runs `command` (the binary by default) in a child process with the directory's environment (and `env`); stdin is `input`, then closed. */
export function spawnCli(dir: string, args: string[], options: { command?: string[]; input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  const [file, ...prefix] = options.command ?? [process.execPath, BIN];
  return new Promise((resolve, reject) => {
    const child = spawn(file!, [...prefix, ...args], { cwd: ROOT, env: envFor(dir, options.env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += String(chunk); });
    child.stderr.on('data', (chunk) => { stderr += String(chunk); });
    child.stdin.end(options.input ?? '');
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
