/**
 * The binary's output piped into a reader that stops early (`gatehouse audit tail | head -1`):
 * the command ends quietly with 0, as other Unix tools do, instead of printing Node's EPIPE error
 * and its stack. The output is larger than a pipe holds, so the CLI is still writing when the
 * reader closes. Output that cannot be written at all (stdout on /dev/full, a full disk) is one
 * line and exit 1, naming what the command already made.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import { AuditLog } from '../../apps/auth-server/src/audit/audit-log.ts';
import { BIN, envFor, makeCliDir, ROOT, runCli } from './support/cli-runner.ts';

/** Runs the binary with `args`, reads its stdout up to the first line break, then closes the pipe, as `head -1` does. */
function firstLineOf(dir: string, args: string[]): Promise<{ code: number | null; signal: string | null; line: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: envFor(dir), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += String(chunk);
      if (stdout.includes('\n')) child.stdout.destroy();
    });
    child.stderr.on('data', (chunk) => { stderr += String(chunk); });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, line: stdout.split('\n')[0]!, stderr }));
  });
}

/** Runs the binary with `args` and its stdout on /dev/full, where every write fails with ENOSPC. */
function onFullDisk(dir: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const full = openSync('/dev/full', 'w');
  return new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: envFor(dir), stdio: ['ignore', full, 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk) => { stderr += String(chunk); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  }).finally(() => closeSync(full));
}

describe('gatehouse piped into a reader that stops early', () => {
  let dir: string;

  before(async () => {
    dir = makeCliDir('gatehouse-cli-pipe-');
    assert.equal((await runCli(dir, ['audit', 'tail'])).code, 0, 'creates the database');
    // 1000 events of about 400 bytes: 400 kB, several times what a pipe holds.
    const database = await openDatabase({ sqliteFile: join(dir, 'data', 'auth-server.db') }, 'auth-server');
    const audit = new AuditLog(database, { retention: 86_400, maxEvents: 100_000 });
    for (let i = 0; i < 1000; i += 1) await audit.record({ event: 'key.rotated', actor: { name: 'cli' }, details: { n: i, note: 'x'.repeat(300) } });
    await database.close();
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  for (const args of [['audit', 'tail', '-n', '1000'], ['--json', 'audit', 'tail', '-n', '1000']]) {
    test(`${args.join(' ')} | head -1: the first line, then exit 0 with nothing on stderr`, async () => {
      const result = await firstLineOf(dir, args);
      assert.match(result.line, /key\.rotated/);
      assert.equal(result.stderr, '', 'no EPIPE error');
      assert.deepEqual({ code: result.code, signal: result.signal }, { code: 0, signal: null });
    });
  }
});

describe('gatehouse with its output on a full disk', () => {
  let dir: string;

  before(async () => {
    dir = makeCliDir('gatehouse-cli-full-');
    assert.equal((await runCli(dir, ['users', 'add', 'alice'], 'alice password 12\n')).code, 0);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const cases = [
    {
      args: ['--json', 'clients', 'add', '--name', 'Reports', '--redirect-uri', 'https://reports.example.com/cb', '--client-id', 'reports'],
      stderr: /^gatehouse: cannot write the output \(ENOSPC: [^)]*\); the client reports was created and its secret, shown only once, is lost; to remove it: npx gatehouse clients remove reports\n$/,
    },
    {
      args: ['services', 'add', '--name', 'Nightly', '--scope', 'mcp:read', '--auth-method', 'client_secret_basic', '--client-id', 'nightly'],
      stderr: /^gatehouse: cannot write the output \(ENOSPC: [^)]*\); the service account nightly was created and its secret, shown only once, is lost; to remove it: npx gatehouse clients remove nightly\n$/,
    },
    { args: ['users', 'list'], stderr: /^gatehouse: cannot write the output \(ENOSPC: [^)]*\); what the command changed, if anything, stays changed\n$/ },
  ];
  for (const { args, stderr } of cases) {
    test(`${args.join(' ')} > /dev/full: one line on stderr naming the error and what was made, exit 1`, async () => {
      const result = await onFullDisk(dir, args);
      assert.match(result.stderr, stderr);
      assert.equal(result.code, 1);
    });
  }

  test('the clients it names exist, and the command it gives removes them', async () => {
    const listed = await runCli(dir, ['--json', 'clients', 'list']);
    assert.deepEqual((JSON.parse(listed.stdout) as Array<{ client_id: string }>).map((c) => c.client_id).sort(), ['nightly', 'reports']);
    for (const id of ['reports', 'nightly']) assert.equal((await runCli(dir, ['clients', 'remove', id])).code, 0);
  });
});
