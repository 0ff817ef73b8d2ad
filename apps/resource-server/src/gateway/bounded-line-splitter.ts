/**
 * The LF-ended lines of a byte stream (a stdio MCP server's stdout: MCP 2025-11-25 transports
 * §stdio, one JSON-RPC message per line), each at most `maxBytes` bytes. A longer line is not
 * held: once it passes the bound only its first and last `keep` bytes are kept, and it is handed
 * over as those two ends when its LF arrives. So what is held per stream stays under `maxBytes`
 * however long the server writes without a line end, and the cost stays linear however the line
 * is cut into chunks (each chunk is scanned once; a line's pieces are joined only at its end).
 *
 * The MCP SDK's ReadBuffer, which this replaces, joined every chunk to the ones before (quadratic)
 * and, past its 10 MiB, threw, and its StdioClientTransport then closed the transport: one long
 * answer killed a process every caller shares.
 *
 * A CR before the LF is left in the line (JSON allows it as whitespace); a line still open when
 * the stream ends is not handed over. Does not check that a line is UTF-8 or JSON.
 */
export class BoundedLineSplitter {
  readonly #maxBytes: number;
  readonly #keep: number;
  readonly #onLine: (line: Buffer) => void;
  readonly #onTooLong: (head: Buffer, tail: Buffer) => void;
  /** The line not yet ended, as it arrived. */
  #parts: Buffer[] = [];
  #length = 0;
  /** Set once the line being read passed the bound: its first `keep` bytes. */
  #head: Buffer | undefined;
  /** Its last `keep` bytes so far. */
  #tail: Buffer = Buffer.alloc(0);

  /**
   * `keep` (bytes of each end of a line past the bound) is meant to be small against `maxBytes`;
   * `onTooLong` gets the ends as copies.
   */
  constructor(maxBytes: number, keep: number, onLine: (line: Buffer) => void, onTooLong: (head: Buffer, tail: Buffer) => void) {
    this.#maxBytes = maxBytes;
    this.#keep = keep;
    this.#onLine = onLine;
    this.#onTooLong = onTooLong;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (let end = chunk.indexOf(0x0a, start); end !== -1; end = chunk.indexOf(0x0a, start)) {
      this.#append(chunk.subarray(start, end));
      this.#endLine();
      start = end + 1;
    }
    this.#append(chunk.subarray(start));
  }

  #append(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.#head) {
      this.#tail = lastBytes([this.#tail, piece], this.#keep);
      return;
    }
    if (this.#length + piece.length <= this.#maxBytes) {
      this.#parts.push(piece);
      this.#length += piece.length;
      return;
    }
    const parts = [...this.#parts, piece];
    this.#head = Buffer.concat(parts, Math.min(this.#keep, this.#length + piece.length));
    this.#tail = lastBytes(parts, this.#keep);
    this.#parts = [];
    this.#length = 0;
  }

  #endLine(): void {
    if (this.#head) {
      const head = this.#head;
      this.#head = undefined;
      this.#onTooLong(head, this.#tail);
      this.#tail = Buffer.alloc(0);
      return;
    }
    const line = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#length);
    this.#parts = [];
    this.#length = 0;
    this.#onLine(line);
  }
}

/** The last `count` bytes of `parts` joined, as a copy (not a view holding a whole chunk). */
function lastBytes(parts: Buffer[], count: number): Buffer {
  const kept: Buffer[] = [];
  let length = 0;
  for (let index = parts.length - 1; index >= 0 && length < count; index -= 1) {
    const part = parts[index]!;
    const piece = part.subarray(Math.max(0, part.length - (count - length)));
    kept.unshift(piece);
    length += piece.length;
  }
  return Buffer.concat(kept, length);
}
