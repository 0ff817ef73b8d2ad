/**
 * readBoundedLines on a real stream, fed the way a process's stderr may come: lines cut anywhere,
 * every kind of line end, multi-byte characters split between chunks, and lines longer than the
 * bound that end late or never.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { readBoundedLines } from '../../apps/resource-server/src/gateway/read-bounded-lines.ts';

const MAX = 10;

/** What `chunks` (text, or bytes as they came) give as lines, `+` marking a cut one. */
async function linesOf(chunks: Array<string | Buffer>): Promise<string[]> {
  const input = new PassThrough();
  const lines: string[] = [];
  readBoundedLines(input, MAX, (line, cut) => void lines.push(cut ? `${line}+` : line));
  for (const chunk of chunks) input.write(chunk);
  input.end();
  await once(input, 'end');
  return lines;
}

describe('stderr lines, bounded', () => {
  const euro = Buffer.from('€');
  const cases: Array<[string, Array<string | Buffer>, string[]]> = [
    ['LF line ends', ['one\ntwo\n'], ['one', 'two']],
    ['CRLF line ends', ['one\r\ntwo\r\n'], ['one', 'two']],
    ['a lone CR ends a line', ['one\rtwo\n'], ['one', 'two']],
    ['a CRLF split between chunks is one line end', ['one\r', '\ntwo\n'], ['one', 'two']],
    ['a CR at a chunk\'s end followed by text', ['one\r', 'two\n'], ['one', 'two']],
    ['empty lines are kept', ['\n\none\n'], ['', '', 'one']],
    ['a line cut at every character', [...'one\ntwo\n'], ['one', 'two']],
    ['a line still open at the stream\'s end is handed over', ['one\ntwo'], ['one', 'two']],
    ['a line exactly at the bound is whole', [`${'a'.repeat(MAX)}\n`], ['a'.repeat(MAX)]],
    ['a line one past the bound is cut, its rest dropped', [`${'a'.repeat(MAX)}b\nnext\n`], [`${'a'.repeat(MAX)}+`, 'next']],
    ['a long line in small chunks is cut once, at the chunk that passes the bound', ['aaaa', 'aaaa', 'aaaa', 'bbbb', 'cc\nnext\n'], [`${'a'.repeat(MAX)}+`, 'next']],
    ['a long line that never ends is cut once', ['a'.repeat(1000), 'b'.repeat(1000)], [`${'a'.repeat(MAX)}+`]],
    ['a long line ended by a CRLF split between chunks', [`${'a'.repeat(MAX + 5)}\r`, '\nnext\n'], [`${'a'.repeat(MAX)}+`, 'next']],
    ['a multi-byte character split between chunks', [Buffer.from('price '), euro.subarray(0, 1), euro.subarray(1), Buffer.from('\n')], ['price €']],
  ];
  for (const [name, chunks, expected] of cases) {
    test(name, async () => assert.deepEqual(await linesOf(chunks), expected));
  }

  test('a line written without end is handed over cut before any line end arrives', async () => {
    const input = new PassThrough();
    const lines: string[] = [];
    readBoundedLines(input, MAX, (line, cut) => void lines.push(cut ? `${line}+` : line));
    input.write('a'.repeat(MAX * 100));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(lines, [`${'a'.repeat(MAX)}+`]);
    input.destroy();
  });
});
