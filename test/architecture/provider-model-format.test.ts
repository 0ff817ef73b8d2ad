/**
 * The provider's model format (`oidc_models.payload`, oidc-provider's own JSON) is read and
 * written only by the adapter, so an oidc-provider upgrade that changes it can break only that
 * module, whose tests then say so. Every other statement on oidc_models uses the real columns.
 * Read from the source: every string literal (quoted or template) of every file under apps/.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..', '..');
const ADAPTER = 'apps/auth-server/src/provider/database-adapter.ts';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|js|mjs)$/.test(name) ? [path] : [];
  });
}

/** The string literals of a source text: '…', "…" and `…` (template parts included as text). */
function stringLiterals(text: string): string[] {
  return [...text.matchAll(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g)].map((m) => m[0]);
}

/** What a literal must not say about oidc_models outside the adapter, with the reason. */
function modelFormatUse(literal: string): string | undefined {
  const jsonOnPayload = /\bjson\w*\s*\(\s*(\w+\.)?payload\b|\bpayload\s*(::\s*jsonb?\s*)?->/i.test(literal);
  const namesModels = /\boidc_models\b/.test(literal);
  if (jsonOnPayload || (namesModels && /\bjson\w*\s*\(|->>/i.test(literal))) return 'a JSON function';
  if (namesModels && /\bpayload\b/i.test(literal)) return 'the payload column';
  return undefined;
}

describe('the provider\'s model format stays in the adapter', () => {
  const files = sourceFiles(join(ROOT, 'apps')).map((path) => ({ path: relative(ROOT, path), text: readFileSync(path, 'utf8') }));

  test('the source is read: the adapter itself reads and writes the payload column', () => {
    const adapter = files.find((f) => f.path === ADAPTER);
    assert.ok(adapter, `${ADAPTER} exists`);
    assert.ok(stringLiterals(adapter.text).some((literal) => modelFormatUse(literal) === 'the payload column'));
  });

  test('the check sees a statement that reads the payload elsewhere', () => {
    const sample = 'const q = db.prepare(`SELECT id FROM oidc_models WHERE json_extract(payload, \'$.accountId\') = ?`);';
    assert.deepEqual(stringLiterals(sample).map(modelFormatUse), ['a JSON function']);
    assert.equal(modelFormatUse("'SELECT payload FROM oidc_models WHERE model = ?'"), 'the payload column');
    assert.equal(modelFormatUse("'SELECT id FROM oidc_models WHERE account_id = ?'"), undefined);
    assert.equal(modelFormatUse("`AND (payload::jsonb ->> 'clientId') = ?`"), 'a JSON function', 'PostgreSQL\'s operators too, in a fragment');
  });

  test('no other file reads the payload column or applies a JSON function in SQL', () => {
    const offenders = files
      .filter((f) => f.path !== ADAPTER)
      .flatMap((f) => stringLiterals(f.text).flatMap((literal) => {
        const use = modelFormatUse(literal);
        return use ? [`${f.path}: ${use} in ${literal.slice(0, 100)}`] : [];
      }));
    assert.deepEqual(offenders, []);
  });
});
