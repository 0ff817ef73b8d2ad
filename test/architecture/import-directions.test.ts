/**
 * The rooms of the code import one way (the README of each folder says what it must not import):
 * in the auth server, web pages → management → provider, and the CLI uses management, never the
 * pages; the admin and account pages do not import each other; the two apps do not import each
 * other, and apps/shared imports neither. Read from the source files' import statements.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..', '..');
const APPS = join(ROOT, 'apps');
const AUTH = 'apps/auth-server/src';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|js)$/.test(name) ? [path] : [];
  });
}

/** Every relative import of every file under apps/, as paths from the repository root. */
function importEdges(): Array<{ from: string; to: string }> {
  return sourceFiles(APPS).flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    const specifiers = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)'(\.{1,2}\/[^']+)'/gm)].map((m) => m[1]!);
    return specifiers.map((specifier) => ({
      from: relative(ROOT, file),
      to: relative(ROOT, resolve(dirname(file), specifier)),
    }));
  });
}

const under = (path: string, folder: string) => path === folder || path.startsWith(`${folder}/`);

/** Each rule names the direction it forbids; `breaks` says whether an import (from → to) goes against it. */
const RULES: Array<{ name: string; breaks: (from: string, to: string) => boolean }> = [
  { name: 'provider/ imports neither management/, web/ nor cli/', breaks: (from, to) => under(from, `${AUTH}/provider`) && [`${AUTH}/management`, `${AUTH}/web`, `${AUTH}/cli`].some((room) => under(to, room)) },
  { name: 'management/ imports neither web/ nor cli/', breaks: (from, to) => under(from, `${AUTH}/management`) && [`${AUTH}/web`, `${AUTH}/cli`].some((room) => under(to, room)) },
  { name: 'cli/ does not import web/', breaks: (from, to) => under(from, `${AUTH}/cli`) && under(to, `${AUTH}/web`) },
  { name: 'web/admin/ and web/account/ do not import each other', breaks: (from, to) => (under(from, `${AUTH}/web/admin`) && under(to, `${AUTH}/web/account`)) || (under(from, `${AUTH}/web/account`) && under(to, `${AUTH}/web/admin`)) },
  { name: 'from web/, web/admin/ and web/account/ import only page-handler.ts', breaks: (from, to) => [`${AUTH}/web/admin`, `${AUTH}/web/account`].some((room) => under(from, room)) && dirname(to) === `${AUTH}/web` && to !== `${AUTH}/web/page-handler.ts` },
  { name: 'only web/ and create-auth-server.ts import web/', breaks: (from, to) => under(to, `${AUTH}/web`) && !under(from, `${AUTH}/web`) && from !== `${AUTH}/create-auth-server.ts` },
  { name: 'only web/, cli/ and create-auth-server.ts import management/', breaks: (from, to) => under(to, `${AUTH}/management`) && ![`${AUTH}/management`, `${AUTH}/web`, `${AUTH}/cli`, `${AUTH}/create-auth-server.ts`].some((room) => under(from, room)) },
  { name: 'the auth server does not import the resource server', breaks: (from, to) => under(from, 'apps/auth-server') && under(to, 'apps/resource-server') },
  { name: 'the resource server does not import the auth server', breaks: (from, to) => under(from, 'apps/resource-server') && under(to, 'apps/auth-server') },
  { name: 'apps/shared imports neither app', breaks: (from, to) => under(from, 'apps/shared') && (under(to, 'apps/auth-server') || under(to, 'apps/resource-server')) },
];

describe('import directions between rooms', () => {
  const edges = importEdges();

  test('the imports are read (the pages import management, management imports provider, the CLI imports management)', () => {
    const seen = (from: string, to: string) => edges.some((e) => under(e.from, from) && under(e.to, to));
    assert.ok(seen(`${AUTH}/web`, `${AUTH}/management`));
    assert.ok(seen(`${AUTH}/management`, `${AUTH}/provider`));
    assert.ok(seen(`${AUTH}/cli`, `${AUTH}/management`));
    assert.ok(seen('apps/resource-server', 'apps/shared'));
  });

  for (const rule of RULES) {
    test(rule.name, () => {
      const wrong = edges.filter((e) => rule.breaks(e.from, e.to)).map((e) => `${e.from} → ${e.to}`);
      assert.deepEqual(wrong, []);
    });
  }
});
