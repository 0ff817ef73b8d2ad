/**
 * BoundedLineSplitter, fed the way a stdio server's stdout may come: lines cut anywhere, lines at
 * and one past the bound, and a line past it cut into many chunks, of which only the two ends are
 * kept.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BoundedLineSplitter } from '../../apps/resource-server/src/gateway/bounded-line-splitter.ts';

const MAX = 10;
const KEEP = 3;

/** What `chunks` give as lines; a line past the bound as `<head>…<tail>`. */
function linesOf(chunks: string[]): string[] {
  const lines: string[] = [];
  const splitter = new BoundedLineSplitter(MAX, KEEP, (line) => lines.push(line.toString()), (head, tail) => lines.push(`${head.toString()}…${tail.toString()}`));
  for (const chunk of chunks) splitter.push(Buffer.from(chunk));
  return lines;
}

describe('stdout lines, bounded', () => {
  const cases: Array<[string, string[], string[]]> = [
    ['LF line ends', ['one\ntwo\n'], ['one', 'two']],
    ['a CR before the LF stays in the line', ['one\r\n'], ['one\r']],
    ['a lone CR does not end a line', ['one\rtwo\n'], ['one\rtwo']],
    ['a line cut at every byte', [...'one\ntwo\n'], ['one', 'two']],
    ['a line still open at the stream\'s end is not handed over', ['one\ntwo'], ['one']],
    ['a line exactly at the bound is whole', [`${'a'.repeat(MAX)}\n`], ['a'.repeat(MAX)]],
    ['a line at the bound cut into single bytes is whole', [...`${'a'.repeat(MAX)}\n`], ['a'.repeat(MAX)]],
    ['a line one past the bound is handed over as its ends', [`abc${'x'.repeat(MAX - 5)}yz9\nnext\n`], ['abc…yz9', 'next']],
    ['a line past the bound in many chunks: its first and last bytes', ['ab', 'cd', ...Array.from({ length: 50 }, () => 'xyz'), 'wx', 'y', 'z\nnext\n'], ['abc…xyz', 'next']],
    ['the bound passed by a chunk that also ends the line', ['abcdefgh', 'ijklmnop\nnext\n'], ['abc…nop', 'next']],
    ['a line past the bound that never ends is never handed over', ['a'.repeat(1000), 'b'.repeat(1000)], []],
  ];
  for (const [name, chunks, expected] of cases) {
    test(name, () => assert.deepEqual(linesOf(chunks), expected));
  }

  test('one line of 64 MiB in 64 KiB chunks is handed over as its ends', () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let ends: string | undefined;
    const splitter = new BoundedLineSplitter(16 * 1024 * 1024, 4, () => assert.fail('not handed over whole'), (head, tail) => {
      ends = `${head.toString()}|${tail.toString()}`;
    });
    // Joining every chunk to the ones before (the SDK's ReadBuffer) would copy 32 GiB here; its
    // speed is not timed in a test (a loaded machine), only that the line's ends come out right.
    for (let i = 0; i < 1024; i += 1) splitter.push(chunk);
    splitter.push(Buffer.from('end\n'));
    assert.equal(ends, 'xxxx|xend');
  });
});
