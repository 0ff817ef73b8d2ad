/**
 * Text from outside (a client's `client_name`, a request's header, an audit detail) made safe to
 * show on a terminal, a page or in a log line: every character that steers the display instead of
 * showing is written out as a visible escape (`\x1b`, `\x9b`, `\u202e`), so the value stays
 * recognisable and cannot act.
 *
 * - C0 controls (U+0000–U+001F) and DEL (U+007F): ESC starts ECMA-48 sequences that erase lines,
 *   move the cursor or, as OSC 52, write the clipboard; CR and LF forge or overwrite lines.
 * - C1 controls (U+0080–U+009F, ECMA-48 §5.2): U+009B is CSI and U+009D OSC on terminals that
 *   read 8-bit controls, the same as ESC [ and ESC ].
 * - Bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069, Unicode UAX #9 §2): they
 *   reorder what follows so the text reads other than it is ("Trojan Source", CVE-2021-42574).
 * `keep`: characters the caller's own format emits (a multi-line text's `\n`), left as they are.
 * Deliberately not done: a backslash stays one, so a value can spell out `\x1b` literally; it
 * shows as those four characters, which is harmless.
 */

// eslint-disable-next-line no-control-regex
const STEERING = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `\x1b` up to U+00FF, `\u202e` above. */
function visible(char: string): string {
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

export function escapeControlCharacters(text: string, keep = ''): string {
  return text.replace(STEERING, (char) => (keep.includes(char) ? char : visible(char)));
}
