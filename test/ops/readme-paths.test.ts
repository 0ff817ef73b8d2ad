/**
 * The READMEs point only to files a clone has: every relative link, and every path in backticks
 * that looks like a repository file or folder (a file name with an extension, a path ending in
 * `/`, or one under a top-level folder), in README.md and the READMEs under apps/, names a file
 * git tracks. A path may be written from the README's folder, from any folder above it, or from
 * an app's `src/` (as the architecture notes do); `*` and `<name>` match any part of a name. The
 * paths that are the operator's own files or made at run time are listed below, each with why.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT } from './support/processes.ts';

const NOT_IN_A_CLONE: Record<string, string> = {
  './data': 'the SQLite files, made at the first start',
  'KEYS_DIR/signing-keys.json': 'made at the first start, in the keys directory',
  'KEYS_DIR/cookie-keys.json': 'made at the first start, in the keys directory',
  'claude_desktop_config.json': 'Claude Desktop\'s own config file, on the user\'s machine',
  'gatehouse.yml': 'the operator\'s config file, as the examples name it',
  'gatehouse.yaml': 'the operator\'s config file, as the examples name it',
  '.env': 'the operator\'s environment file for docker compose',
};

const TOP_FOLDERS = /^(apps|bench|docs|ops|scripts|test|views|\.ci)\//;
const FILE_NAME = /^[\w@.*<>-]+\.(ts|js|mjs|json|ya?ml|md|sql|conf|sh|njk|html)$|^Dockerfile$/;

const tracked = execFileSync('git', ['ls-files'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim().split('\n');
const trackedFolders = new Set(tracked.flatMap((file) => file.split('/').slice(0, -1).map((_, i, parts) => `${parts.slice(0, i + 1).join('/')}/`)));
const readmes = tracked.filter((file) => file === 'README.md' || (file.startsWith('apps/') && file.endsWith('/README.md')));

/** The paths a README names: relative link targets, and backticked words that look like repository paths. */
function pathsIn(text: string): string[] {
  const links = [...text.matchAll(/\]\(([^)\s#]+)[^)]*\)/g)].map((m) => m[1]!).filter((target) => !/^[a-z][a-z+.-]*:/.test(target));
  const quoted = [...text.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]!.replace(/[.,:;]$/, ''))
    // Not paths: URLs, absolute paths, variables, options, and scoped npm module specifiers (`@scope/pkg/x.js`).
    .filter((word) => !/^[a-z][a-z+.-]*:|^\/|^\$|^--?|^@[\w.-]+\//.test(word))
    .filter((word) => (word.includes('/') && (TOP_FOLDERS.test(word) || word.endsWith('/') || FILE_NAME.test(posix.basename(word)))) || FILE_NAME.test(word));
  return [...new Set([...links, ...quoted])];
}

/** The folders a path in `readme` may be written from. */
function basesOf(readme: string): string[] {
  const bases = [''];
  for (let dir = posix.dirname(readme); dir !== '.'; dir = posix.dirname(dir)) bases.push(`${dir}/`);
  return [...bases, 'apps/', 'apps/auth-server/src/', 'apps/resource-server/src/'];
}

function exists(path: string, base: string): boolean {
  const full = posix.normalize(`${base}${path.replace(/^\.\//, '')}`);
  if (full.startsWith('..')) return false; // outside the repository: a clone does not have it
  if (/[*<]/.test(full)) {
    const pattern = new RegExp(`^${full.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*|<[^>]*>/g, '[^/]+')}`);
    return tracked.some((file) => pattern.test(file));
  }
  return full.endsWith('/') ? trackedFolders.has(full) : tracked.includes(full) || trackedFolders.has(`${full}/`);
}

describe('README paths', () => {
  test('finds the READMEs and the paths in them (the check below is not vacuous)', () => {
    assert.ok(readmes.includes('README.md') && readmes.length > 10, readmes.join(' '));
    const paths = pathsIn(readFileSync(`${REPO_ROOT}/README.md`, 'utf8'));
    for (const path of ['Dockerfile', 'docker-compose.yml', 'ops/federated.yml']) assert.ok(paths.includes(path), `${path} among ${paths.join(' ')}`);
    assert.ok(!exists('../shared/DESIGN.md', ''), 'a path outside the repository is missing from a clone');
  });

  for (const readme of readmes) {
    test(`${readme} names only files a clone has`, () => {
      const missing = pathsIn(readFileSync(`${REPO_ROOT}/${readme}`, 'utf8'))
        .filter((path) => !(path in NOT_IN_A_CLONE) && !basesOf(readme).some((base) => exists(path, base)));
      assert.deepEqual(missing, [], `${readme} names paths a clone does not have`);
    });
  }
});
