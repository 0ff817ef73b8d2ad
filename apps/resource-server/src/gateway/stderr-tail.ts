/**
 * The last lines a stdio server wrote to its stderr, for the reason it is down: a server that
 * quits at start usually says why there ("Error: None of the specified directories are
 * accessible") while the gateway only sees its connection close. The reason goes to the admin's
 * MCP servers page (GET /gateway/servers) and the log, so what is quoted is bounded and plain:
 *
 * - lines are taken as the log has them, already without the server's credentials (`add` is fed
 *   the redacted line #logStderr logs, redact-credentials.ts): nothing the log hides is shown;
 * - blank lines, stack frames (`    at …`) and Node's closing `Node.js v20…` are skipped, so the
 *   lines kept are the error's own;
 * - control, bidirectional-override and invisible characters are written as escapes (`\x1b`,
 *   `\u202e`, `\u200b`), so a line cannot recolour a terminal tailing the log, reorder the text on
 *   the page or hide part of it;
 * - at most MAX_LINES lines and MAX_CHARS characters, the start cut first (the last line is
 *   the likeliest to say why).
 *
 * Does not redact anything itself, nor recognise a secret the server read elsewhere (a file):
 * the log already holds those lines, and the page quotes no more than the log does.
 */
const MAX_LINES = 2;
const MAX_CHARS = 300;
const SKIPPED = /^\s*$|^\s+at |^Node\.js v\d/;
// C0, DEL, C1, the Arabic letter mark, the zero-width characters, LRM/RLM, the line and paragraph
// separators, the embeddings and overrides, the invisible operators, the isolates, the BOM.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

export class StderrTail {
  readonly #lines: string[] = [];

  add(line: string): void {
    if (SKIPPED.test(line)) return;
    this.#lines.push(line);
    if (this.#lines.length > MAX_LINES) this.#lines.shift();
  }

  /** The lines kept, escaped, joined with ` | ` and cut to MAX_CHARS; undefined when there are none. */
  text(): string | undefined {
    if (this.#lines.length === 0) return undefined;
    const text = this.#lines.map(escapeUnsafe).join(' | ');
    if (text.length <= MAX_CHARS) return text;
    let start = text.length - (MAX_CHARS - 1);
    // Not half a surrogate pair (cut-text.ts says why).
    if (isLowSurrogate(text.charCodeAt(start))) start += 1;
    return `…${text.slice(start)}`;
  }
}

function escapeUnsafe(line: string): string {
  return line.replace(UNSAFE, (char) => {
    const code = char.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
