/**
 * `npm install` in a fresh clone leaves package-lock.json as committed: npm, asked to bring the
 * lock up to date with package.json (offline, from its cache, no scripts), rewrites it byte for
 * byte. A package.json changed without its lock, or a lock written in another npm's format,
 * fails here instead of showing up as a modified file in a newcomer's `git status`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from './support/processes.ts';

test('npm install leaves package-lock.json byte-identical', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-lock-'));
  try {
    for (const file of ['package.json', 'package-lock.json', '.npmrc']) copyFileSync(join(REPO_ROOT, file), join(dir, file));
    await promisify(execFile)('npm', ['install', '--package-lock-only', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], { cwd: dir, timeout: 120_000 });
    assert.equal(readFileSync(join(dir, 'package-lock.json'), 'utf8'), readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
