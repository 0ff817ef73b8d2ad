/**
 * The end of a stdio server's stderr, as the reason it is down quotes it (stderr-tail.ts): every
 * character that could recolour a terminal, reorder the text or hide part of it is an escape.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StderrTail } from '../../apps/resource-server/src/gateway/stderr-tail.ts';

const HIDDEN: Array<[string, string, string]> = [
  ['an escape sequence', 'bad \x1b[31mkey', String.raw`bad \x1b[31mkey`],
  ['a right-to-left override', 'a\u202etxt.exe', String.raw`a\u202etxt.exe`],
  ['a zero-width space', 'sk-\u200bsecret', String.raw`sk-\u200bsecret`],
  ['a zero-width joiner', 'a\u200db', String.raw`a\u200db`],
  ['a line separator', 'first\u2028second', String.raw`first\u2028second`],
  ['a paragraph separator', 'first\u2029second', String.raw`first\u2029second`],
  ['a word joiner', 'a\u2060b', String.raw`a\u2060b`],
  ['an invisible plus', 'a\u2064b', String.raw`a\u2064b`],
  ['a byte order mark', '\ufeffError', String.raw`\ufeffError`],
  ['plain text, accents and emoji kept', 'Erreur: répertoire introuvable 📁', 'Erreur: répertoire introuvable 📁'],
];

for (const [what, line, shown] of HIDDEN) {
  test(`stderr quoted in a down reason: ${what}`, () => {
    const tail = new StderrTail();
    tail.add(line);
    assert.equal(tail.text(), shown);
  });
}
