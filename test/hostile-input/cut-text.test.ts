/**
 * cutText (apps/shared/cut-text.ts) cuts between characters, never inside a surrogate pair, for
 * every place that bounds text from outside: an upstream's error, a stderr line, a recorded
 * user agent or client name. The gateway's cuts are checked end to end in
 * test/gateway/stdio-process-output-is-bounded.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cutText } from '../../apps/shared/cut-text.ts';

const LONE_SURROGATE = /\p{Cs}/u;

const CASES: Array<{ what: string; text: string; max: number; mark?: string; cut: string }> = [
  { what: 'short text is kept whole, with no mark', text: 'abc', max: 3, mark: '…', cut: 'abc' },
  { what: 'ASCII is cut at max', text: 'abcdef', max: 4, mark: '…', cut: 'abcd…' },
  { what: 'a pair that ends at max is kept', text: 'ab🔑cd', max: 4, cut: 'ab🔑' },
  { what: 'a pair that straddles max is left out whole', text: 'abc🔑d', max: 4, cut: 'abc' },
  { what: 'the mark follows the last whole character', text: 'a🔑🔑', max: 4, mark: '…', cut: 'a🔑…' },
  { what: 'only pairs, odd max', text: '🔑🔑🔑', max: 3, cut: '🔑' },
  { what: 'a pair at the start with max 1 leaves nothing', text: '🔑x', max: 1, mark: '…', cut: '…' },
  { what: 'max 0', text: 'abc', max: 0, cut: '' },
  { what: 'BMP characters beyond ASCII count one each', text: 'ééééé', max: 2, cut: 'éé' },
  { what: 'a combining mark may be cut from its base (one code point each)', text: 'ae\u0301', max: 2, cut: 'ae' },
];

for (const { what, text, max, mark, cut } of CASES) {
  test(`cutText: ${what}`, () => {
    const result = cutText(text, max, mark);
    assert.equal(result, cut);
    assert.doesNotMatch(result, LONE_SURROGATE);
  });
}

test('cutText: every cut of a string of emoji and letters is well formed and at most max long', () => {
  const text = 'a🔑bc🔑🔑d𝄞e'.repeat(5);
  for (let max = 0; max <= text.length; max += 1) {
    const result = cutText(text, max);
    assert.doesNotMatch(result, LONE_SURROGATE, `max ${max}`);
    assert.ok(result.length <= max && result.length >= max - 1, `max ${max}: ${result.length}`);
    assert.ok(text.startsWith(result));
  }
});
