/**
 * The lines of a text stream an upstream process writes (its stderr), each at most `maxLength`
 * characters. A longer line is handed over cut (`cut: true`) as soon as its first `maxLength`
 * characters have arrived, and the rest of it is dropped up to its end: what is held per stream
 * stays under `maxLength` however long the process writes without a line end. (readline, used
 * before, held each line whole until it ended: a process writing without a newline grew the
 * gateway's memory without bound.)
 *
 * Line ends are readline's: LF, CRLF or a lone CR; a line still open when the stream ends is
 * handed over too. Does not check what the lines hold (control characters pass as they are).
 */
import type { Readable } from 'node:stream';
import { cutText } from '../../../shared/cut-text.ts';

export function readBoundedLines(input: Readable, maxLength: number, onLine: (line: string, cut: boolean) => void): void {
  let pending = '';
  /** The line being read was cut: the rest of it is dropped. */
  let dropping = false;
  /** The last chunk ended in CR: an LF starting the next one belongs to the same line end. */
  let heldCr = false;

  const append = (piece: string) => {
    if (dropping || piece === '') return;
    if (pending.length + piece.length <= maxLength) {
      pending += piece;
      return;
    }
    onLine(cutText(pending + piece, maxLength), true);
    pending = '';
    dropping = true;
  };
  const endLine = () => {
    if (!dropping) onLine(pending, false);
    pending = '';
    dropping = false;
  };

  input.setEncoding('utf8');
  input.on('data', (chunk: string) => {
    let start = 0;
    if (heldCr) {
      heldCr = false;
      if (chunk.startsWith('\n')) start = 1;
    }
    const lineEnd = /\r\n|\r|\n/g;
    lineEnd.lastIndex = start;
    for (let end = lineEnd.exec(chunk); end !== null; end = lineEnd.exec(chunk)) {
      append(chunk.slice(start, end.index));
      endLine();
      start = lineEnd.lastIndex;
      if (end[0] === '\r' && start === chunk.length) heldCr = true;
    }
    append(chunk.slice(start));
  });
  input.on('end', () => {
    if (pending !== '') endLine();
  });
}
